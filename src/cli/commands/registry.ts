import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_LIMITS, type RegistryLimits } from '../../registry/limits.js';
import { DEFAULT_HEALTH_OPTIONS, healthOptionsSchema } from '../../registry/health/health-checker.js';
import { DEFAULT_NOTIFIER_OPTIONS, notifierOptionsSchema } from '../../registry/notify/notifier.js';
import { DEFAULT_START_OPTIONS } from '../../registry/options.js';
import { createLogger } from '../logger.js';
import { onShutdownSignal, parseCount, parseNumberAs, parsePort } from '../options.js';
import { stopWithParent } from '../parent-watch.js';

interface RegistryFlags {
  host: string;
  port: number;
  store: 'sqlite' | 'memory' | 'etcd';
  dataDir: string;
  resetData?: boolean;
  etcdEndpoints: string;
  etcdPrefix: string;
  advertiseUrl?: string;
  healthInterval?: number;
  healthTimeout?: number;
  healthAttempts?: number;
  healthRetryDelay?: number;
  grace?: number;
  ttl?: number;
  notifyTimeout?: number;
  allowCallbackHosts?: string;
  insecure?: boolean;
  tokensFile?: string;
  courseSources?: string;
  courseApi: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  etcdCa?: string;
  etcdCert?: string;
  etcdKey?: string;
  limit?: Partial<RegistryLimits>;
}

export function registryCommand(): Command {
  // The defaults shown are the registry's own: written once, in the modules that use them.
  const health = DEFAULT_HEALTH_OPTIONS;
  // Each flag checked by the schema of the option it sets.
  const healthField = healthOptionsSchema.shape;
  return new Command('registry')
    .description('run the registry (course API at /services, Roster API at /v1)')
    .option('--host <host>', 'address to listen on', DEFAULT_START_OPTIONS.host)
    .option('--port <port>', 'port to listen on', parsePort, DEFAULT_START_OPTIONS.port)
    .addOption(
      new Option('--store <kind>', 'where the state lives: sqlite (survives restarts), memory (does not), etcd (cluster mode)')
        .choices(['sqlite', 'memory', 'etcd'])
        .default('sqlite'),
    )
    .option('--data-dir <dir>', 'folder of the SQLite file (registry.db)', DEFAULT_START_OPTIONS.dataDir)
    .option('--reset-data', 'when registry.db is found damaged at start, move it aside as registry.db.damaged-<time> and start empty instead of refusing')
    .option('--etcd-endpoints <urls>', 'cluster mode: etcd client URLs, comma-separated', DEFAULT_START_OPTIONS.etcdEndpoints.join(','))
    .option('--etcd-prefix <prefix>', "cluster mode: where Roster's keys live in etcd", DEFAULT_START_OPTIONS.etcdPrefix)
    .option('--advertise-url <url>', 'cluster mode: the URL other registry nodes reach this one at (default http://<host>:<port>)')
    .option('--health-interval <ms>', 'time between probe rounds of an instance', parseNumberAs(healthField.intervalMs), health.intervalMs)
    .option('--health-timeout <ms>', 'timeout of one probe', parseNumberAs(healthField.timeoutMs), health.timeoutMs)
    .option('--health-attempts <n>', 'failed probes in a row before an instance turns critical', parseNumberAs(healthField.attempts), health.attempts)
    .option('--health-retry-delay <ms>', 'wait between the probes of one round', parseNumberAs(healthField.retryDelayMs), health.retryDelayMs)
    .option('--grace <ms>', 'how long an instance stays critical before it is deregistered', parseNumberAs(healthField.graceMs), health.graceMs)
    .option('--ttl <ms>', 'default TTL of instances that renew themselves', parseNumberAs(healthField.defaultTtlMs), health.defaultTtlMs)
    .option('--notify-timeout <ms>', 'timeout of one patch delivery', parseNumberAs(notifierOptionsSchema.shape.timeoutMs), DEFAULT_NOTIFIER_OPTIONS.timeoutMs)
    .option('--allow-callback-hosts <list>', "where heartbeat and update URLs may point besides the instance's own host: CIDRs, hosts or *.domain patterns, comma-separated")
    .option('--insecure', 'turn authentication off: anyone who can reach the registry may change it (a warning is logged at every start)')
    .option('--tokens-file <file>', 'JSON file of the accepted tokens, reloaded when it changes (default <data-dir>/tokens.json)')
    .option('--course-sources <cidrs>', 'source addresses allowed to use the course API, comma-separated IPs or CIDRs (default loopback: 127.0.0.0/8,::1)')
    .option('--no-course-api', 'switch the course API (/services) off')
    .option('--tls-cert <file>', 'PEM certificate: with --tls-key, serve HTTPS')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--tls-ca <file>', 'PEM CA bundle trusted for outbound HTTPS (default env ROSTER_TLS_CA)')
    .option('--etcd-ca <file>', 'cluster mode: PEM CA bundle of the etcd servers (etcd over TLS)')
    .option('--etcd-cert <file>', 'cluster mode: PEM client certificate for etcd')
    .option('--etcd-key <file>', 'cluster mode: PEM private key of --etcd-cert (etcd user and password: env ROSTER_ETCD_USERNAME, ROSTER_ETCD_PASSWORD)')
    .option('--limit <name=value>', 'set one of the limits of docs/operations.md, e.g. --limit writesPerWindow=5000; repeatable', parseLimit)
    .action(runRegistry);
}

async function runRegistry(flags: RegistryFlags): Promise<void> {
  const logger = createLogger('registry');
  stopWithParent();
  // Loaded only when this command runs: `roster ls` and friends need no server.
  const { startRegistry } = await import('../../registry/start-registry.js');
  const running = await startRegistry({
    host: flags.host,
    port: flags.port,
    store: flags.store,
    dataDir: flags.dataDir,
    resetData: flags.resetData === true,
    etcdEndpoints: flags.etcdEndpoints.split(',').map((url) => url.trim()).filter(Boolean),
    etcdPrefix: flags.etcdPrefix,
    advertiseUrl: flags.advertiseUrl,
    logger,
    ...(flags.limit ? { limits: flags.limit } : {}),
    health: withoutUndefined({
      intervalMs: flags.healthInterval,
      timeoutMs: flags.healthTimeout,
      attempts: flags.healthAttempts,
      retryDelayMs: flags.healthRetryDelay,
      graceMs: flags.grace,
      defaultTtlMs: flags.ttl,
    }),
    notify: withoutUndefined({ timeoutMs: flags.notifyTimeout }),
    auth: withoutUndefined({ insecure: flags.insecure, tokensFile: flags.tokensFile }),
    course: withoutUndefined({ enabled: flags.courseApi, sources: listOf(flags.courseSources) }),
    tls: withoutUndefined({ cert: flags.tlsCert, key: flags.tlsKey, ca: flags.tlsCa }),
    ...(flags.etcdCa || flags.etcdCert || flags.etcdKey ? { etcdTls: withoutUndefined({ ca: flags.etcdCa, cert: flags.etcdCert, key: flags.etcdKey }) } : {}),
    outbound: { allow: (flags.allowCallbackHosts ?? '').split(',').map((entry) => entry.trim()).filter(Boolean) },
  }).catch((error: Error) => {
    logger.fatal(error.message);
    process.exit(1);
  });
  logger.info({ url: running.url }, `registry listening on ${running.url}`);
  onShutdownSignal(running.close, (message) => logger.info(message));
}

/** `--limit name=value`, repeatable: each adds one limit to those given before it. */
function parseLimit(text: string, given: Partial<RegistryLimits> = {}): Partial<RegistryLimits> {
  const [name = '', value = ''] = text.split('=', 2);
  if (!Object.hasOwn(DEFAULT_LIMITS, name)) throw new InvalidArgumentError(`must be name=value, the name one of: ${Object.keys(DEFAULT_LIMITS).join(', ')}`);
  return { ...given, [name]: parseCount(value) };
}

function listOf(text: string | undefined): string[] | undefined {
  return text === undefined ? undefined : text.split(',').map((entry) => entry.trim()).filter(Boolean);
}

function withoutUndefined<T extends object>(value: T): Partial<{ [K in keyof T]: Exclude<T[K], undefined> }> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<{ [K in keyof T]: Exclude<T[K], undefined> }>;
}
