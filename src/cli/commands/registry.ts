import { Command, Option } from 'commander';
import { createLogger } from '../logger.js';
import { onShutdownSignal, parseCount, parseMs, parsePort } from '../options.js';

interface RegistryFlags {
  host: string;
  port: number;
  store: 'sqlite' | 'memory' | 'etcd';
  dataDir: string;
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
}

export function registryCommand(): Command {
  return new Command('registry')
    .description('run the registry (course API at /services, Roster API at /v1)')
    .option('--host <host>', 'address to listen on', 'localhost')
    .option('--port <port>', 'port to listen on', parsePort, 3000)
    .addOption(
      new Option('--store <kind>', 'where the state lives: sqlite (survives restarts), memory (does not), etcd (cluster mode)')
        .choices(['sqlite', 'memory', 'etcd'])
        .default('sqlite'),
    )
    .option('--data-dir <dir>', 'folder of the SQLite file (registry.db)', './data')
    .option('--etcd-endpoints <urls>', 'cluster mode: etcd client URLs, comma-separated', 'http://127.0.0.1:2379')
    .option('--etcd-prefix <prefix>', "cluster mode: where Roster's keys live in etcd", '/roster/')
    .option('--advertise-url <url>', 'cluster mode: the URL other registry nodes reach this one at (default http://<host>:<port>)')
    .option('--health-interval <ms>', 'time between probe rounds of an instance (default 3000)', parseMs)
    .option('--health-timeout <ms>', 'timeout of one probe (default 1000)', parseMs)
    .option('--health-attempts <n>', 'failed probes in a row before an instance turns critical (default 3)', parseCount)
    .option('--health-retry-delay <ms>', 'wait between the probes of one round (default 1000)', parseMs)
    .option('--grace <ms>', 'how long an instance stays critical before it is deregistered (default 60000)', parseMs)
    .option('--ttl <ms>', 'default TTL of instances that renew themselves (default 15000)', parseMs)
    .option('--notify-timeout <ms>', 'timeout of one patch delivery (default 2000)', parseMs)
    .action(runRegistry);
}

async function runRegistry(flags: RegistryFlags): Promise<void> {
  const logger = createLogger('registry');
  // Loaded only when this command runs: `roster ls` and friends need no server.
  const { startRegistry } = await import('../../registry/start-registry.js');
  const running = await startRegistry({
    host: flags.host,
    port: flags.port,
    store: flags.store,
    dataDir: flags.dataDir,
    etcdEndpoints: flags.etcdEndpoints.split(',').map((url) => url.trim()).filter(Boolean),
    etcdPrefix: flags.etcdPrefix,
    advertiseUrl: flags.advertiseUrl,
    logger,
    health: withoutUndefined({
      intervalMs: flags.healthInterval,
      timeoutMs: flags.healthTimeout,
      attempts: flags.healthAttempts,
      retryDelayMs: flags.healthRetryDelay,
      graceMs: flags.grace,
      defaultTtlMs: flags.ttl,
    }),
    notify: withoutUndefined({ timeoutMs: flags.notifyTimeout }),
  }).catch((error: Error) => {
    logger.fatal(error.message);
    process.exit(1);
  });
  logger.info({ url: running.url }, `registry listening on ${running.url}`);
  onShutdownSignal(running.close, (message) => logger.info(message));
}

function withoutUndefined<T extends object>(value: T): Partial<{ [K in keyof T]: Exclude<T[K], undefined> }> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<{ [K in keyof T]: Exclude<T[K], undefined> }>;
}
