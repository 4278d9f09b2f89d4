// `roster log`, `roster grading` and `roster portal`, made by one factory: the same options, read
// the same way (a flag, else its ROSTER_* variable, else the default from services/names.ts), and
// the same way to find the part's own token. A service's modules load only when its command runs.
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { LevelWithSilent, Logger } from 'pino';
import type { ClientProtocol } from '../../client/index.js';
import { checkOption, unreadableFile } from '../../protocol/errors.js';
import { httpUrl } from '../../protocol/validation.js';
import { DEFAULT_HOST, DEMO_SERVICES, type DemoPart } from '../../services/names.js';
import { createLogger, logFormat } from '../logger.js';
import { parsePort, registryRoot } from '../options.js';
import { stopWithParent } from '../parent-watch.js';
import { tokenFile } from '../part-tokens.js';
import { DEFAULT_DATA_DIR, DEFAULT_REGISTRY_URL, isThisMachine } from '../registry-api.js';

/** The flags every demo service command takes; a part's own flags come on top. */
export interface DemoServiceFlags {
  host?: string;
  port?: number;
  registry?: string;
  protocol: ClientProtocol;
  dataDir: string;
  token?: string;
}

/** What the service is started with, every value resolved. */
export interface DemoServiceSettings {
  host: string;
  port: number;
  registryUrl: string[];
  protocol: ClientProtocol;
  dataDir: string;
  /** Undefined: none was given and none was found; the service runs without one. */
  token: string | undefined;
  logFormat: 'readable' | 'json';
  logLevel: LevelWithSilent;
}

export interface DemoCommandSpec<Flags extends DemoServiceFlags> {
  part: DemoPart;
  description: string;
  /** What `--data-dir` holds besides `<part>.token`, e.g. "grading.db". */
  dataDirHolds?: string;
  /** The part's own options. */
  options?: readonly Option[];
  /** Starts the service; it handles the signals itself. `logger` is the command's own. */
  start(settings: DemoServiceSettings, flags: Flags, logger: Logger): Promise<unknown>;
}

type Env = Record<string, string | undefined>;

/** Exit codes as the operator commands use them: 1 the service failed to start, 2 a bad flag or variable. */
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

export function demoServiceCommand<Flags extends DemoServiceFlags>(spec: DemoCommandSpec<Flags>): Command {
  const { name, port } = DEMO_SERVICES[spec.part];
  const holds = spec.dataDirHolds ? `${spec.dataDirHolds} and ` : '';
  // No commander defaults where a variable applies: a default would hide that the flag is absent.
  const command = new Command(spec.part)
    .description(spec.description)
    .option('--port <port>', `port to listen on (default ROSTER_PORT or ${port})`, parsePort)
    .option('--host <host>', `address to listen on (default ROSTER_HOST or ${DEFAULT_HOST})`)
    .option('--registry <url[,url…]>', `registry URL, or several comma-separated to fail over (default ROSTER_REGISTRY_URL or ${DEFAULT_REGISTRY_URL})`)
    .addOption(new Option('--protocol <protocol>', 'registry protocol: roster, or course for the Go course registry').choices(['roster', 'course']).default('roster'))
    .option('--data-dir <dir>', `folder of ${holds}${spec.part}.token`, DEFAULT_DATA_DIR)
    .option('--token <secret>', `${name}'s token for the registry (default ROSTER_TOKEN, else <data-dir>/${spec.part}.token for a registry on this machine)`);
  for (const option of spec.options ?? []) command.addOption(option);
  // A bad flag is a usage error, exit 2, as a bad variable is (commander's own would be 1).
  command.exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : EXIT_USAGE));
  return command.action((flags: Flags) => runDemoService(spec, flags));
}

async function runDemoService<Flags extends DemoServiceFlags>(spec: DemoCommandSpec<Flags>, flags: Flags): Promise<void> {
  let settings: DemoServiceSettings;
  try {
    settings = resolveDemoSettings(spec.part, flags, process.env, process.stdout);
  } catch (error) {
    process.stderr.write(`roster: ${(error as Error).message}\n`);
    process.exit(EXIT_USAGE);
  }
  const logger = createLogger(spec.part, settings.logLevel);
  stopWithParent();
  await spec.start(settings, flags, logger).catch((error: Error) => {
    logger.fatal(error.message);
    process.exit(EXIT_FAILED);
  });
}

/** Each value from its flag, else its ROSTER_* variable, else the default; a bad one throws INVALID_OPTION naming where it came from. */
export function resolveDemoSettings(part: DemoPart, flags: DemoServiceFlags, env: Env, stdout: { isTTY?: boolean }): DemoServiceSettings {
  const registryUrl = resolveRegistryUrls(flags.registry, env);
  return {
    host: resolveHost(flags.host, env),
    port: flags.port ?? resolveEnvPort(env) ?? DEMO_SERVICES[part].port,
    registryUrl,
    protocol: flags.protocol,
    dataDir: flags.dataDir,
    token: flags.token?.trim() || env.ROSTER_TOKEN?.trim() || partToken(part, flags.dataDir, registryUrl),
    logFormat: logFormat(stdout, env),
    logLevel: resolveLogLevel(env),
  };
}

const LOG_LEVELS: readonly string[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

function resolveLogLevel(env: Env): LevelWithSilent {
  const level = env.ROSTER_LOG_LEVEL?.trim() || 'info';
  checkOption(LOG_LEVELS.includes(level), 'ROSTER_LOG_LEVEL', `one of ${LOG_LEVELS.join(', ')}`);
  return level as LevelWithSilent;
}

function resolveHost(flag: string | undefined, env: Env): string {
  const host = flag ?? (env.ROSTER_HOST?.trim() || DEFAULT_HOST);
  checkOption(host.trim().length > 0, flag === undefined ? 'ROSTER_HOST' : '--host', 'a host name or IP address');
  return host;
}

function resolveEnvPort(env: Env): number | undefined {
  const text = env.ROSTER_PORT?.trim();
  if (!text) return undefined;
  const port = Number(text);
  checkOption(/^\d+$/.test(text) && port <= 65535, 'ROSTER_PORT', 'a port number from 0 to 65535');
  return port;
}

/** Comma-separated, in order of preference: the client fails over to the next when one does not answer. */
function resolveRegistryUrls(flag: string | undefined, env: Env): string[] {
  const source = flag !== undefined ? '--registry' : 'ROSTER_REGISTRY_URL';
  const text = flag ?? (env.ROSTER_REGISTRY_URL?.trim() || DEFAULT_REGISTRY_URL);
  const urls = text.split(',').map((url) => url.trim());
  checkOption(urls.every((url) => httpUrl.safeParse(url).success), source, 'an http(s) URL, or several separated by commas');
  return urls.map(registryRoot);
}

/**
 * The secret `roster up` wrote for this part, so that a part started again by hand beside it
 * needs nothing exported. Only for registries on this machine: the secret is not sent elsewhere.
 */
function partToken(part: DemoPart, dataDir: string, registryUrls: readonly string[]): string | undefined {
  if (!registryUrls.every((url) => isThisMachine(new URL(url).hostname))) return undefined;
  const file = tokenFile(dataDir, part);
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw unreadableFile('--data-dir', file, error, 'a token file');
  }
}
