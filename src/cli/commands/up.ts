// `roster up`: the whole system — registry, log, grading, portal — as separate processes,
// started in dependency order, each waited for until it is registered and passing. Secure with
// no configuration: each service gets its own token (see ../part-tokens.ts), and the operator a
// link that signs the browser in to the dashboard with the registry's admin token.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { Command } from 'commander';
import { ignoreOutputErrorsAfterHangup } from '../../shared/hangup.js';
import { partNotReady } from '../../protocol/errors.js';
import { DEFAULT_START_OPTIONS } from '../../registry/options.js';
import { parsePort } from '../options.js';
import { formatLogLine } from '../log-lines.js';
import { ensurePartTokens, tokenFile, type PartIdentity } from '../part-tokens.js';
import { forgetStartedParts, leftoverOnPort, recordStartedParts, type StartedPart } from '../leftovers.js';
import { PARENT_WATCH_ENV } from '../parent-watch.js';
import { DEFAULT_HOST, DEMO_SERVICES, serviceUrl, type DemoPart } from '../../services/names.js';

interface UpFlags {
  host: string;
  dataDir: string;
  registryPort: number;
  logPort: number;
  gradingPort: number;
  portalPort: number;
}

interface Part {
  /** Prefix of its output lines. */
  label: string;
  /** The name it registers under; the registry registers under none. */
  service: string | null;
  port: number;
  portOption: string;
  args: string[];
  /** Name of its token (and of the file that holds the secret); the registry has none. */
  token: string | null;
}

/** The services' tokens: each may register its own service only. */
const PART_TOKENS: readonly PartIdentity[] = Object.values(DEMO_SERVICES).map(({ part, name }) => ({ name: part, service: name }));

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

export function upCommand(): Command {
  return new Command('up')
    .description('start the registry, log, grading and portal services as separate processes, each service with its own token, and print a link that signs you in to the dashboard')
    .option('--host <host>', 'address every part listens on', DEFAULT_HOST)
    .option('--data-dir <dir>', "where the registry's state, the tokens, the log file and the grading database live", DEFAULT_START_OPTIONS.dataDir)
    .option('--registry-port <port>', 'port of the registry', parsePort, DEFAULT_START_OPTIONS.port)
    .option('--log-port <port>', 'port of the log service', parsePort, DEMO_SERVICES.log.port)
    .option('--grading-port <port>', 'port of the grading service', parsePort, DEMO_SERVICES.grading.port)
    .option('--portal-port <port>', 'port of the teacher portal', parsePort, DEMO_SERVICES.portal.port)
    .action(runUp);
}

function parts(flags: UpFlags, tokensFile: string): Part[] {
  const registryUrl = serviceUrl(flags.registryPort, flags.host);
  const service = (part: DemoPart, port: number, portOption: string): Part => {
    const args = [part, '--host', flags.host, '--port', String(port), '--registry', registryUrl, '--data-dir', flags.dataDir];
    return { label: part, service: DEMO_SERVICES[part].name, token: part, port, portOption, args };
  };
  const registryArgs = ['registry', '--host', flags.host, '--port', String(flags.registryPort), '--data-dir', flags.dataDir, '--tokens-file', tokensFile];
  return [
    { label: 'registry', service: null, token: null, port: flags.registryPort, portOption: '--registry-port', args: registryArgs },
    service('log', flags.logPort, '--log-port'),
    service('grading', flags.gradingPort, '--grading-port'),
    service('portal', flags.portalPort, '--portal-port'),
  ];
}

async function runUp(flags: UpFlags): Promise<void> {
  const tokens = await ensurePartTokens(flags.dataDir, PART_TOKENS).catch((error: Error) => {
    say(error.message, 'error');
    process.exit(1);
  });
  const all = parts(flags, tokens.tokensFile);
  const registryUrl = serviceUrl(flags.registryPort, flags.host);
  await checkPortsFree(all, flags);
  const running: ChildProcess[] = [];
  const started: StartedPart[] = [];
  let stopping = false;
  const stopAll = async (code: number): Promise<never> => {
    stopping = true;
    await stopInReverse(running);
    forgetStartedParts(flags.dataDir);
    process.exit(code);
  };
  // SIGHUP: the terminal was closed; the parts, in their own process groups, hear only from us.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      ignoreOutputErrorsAfterHangup(signal);
      void stopAll(0);
    });
  }

  let allStarted = false;
  for (const part of all) {
    const secret = part.token === null ? undefined : tokens.secrets.get(part.token);
    // An instance restored from an earlier run may still look passing: only a newer change counts.
    const since = part.service ? await registryRevision(registryUrl) : 0;
    // The services also hold the registry's stdin pipe open (../parent-watch.ts): after a kill -9
    // of this process the registry stops only once they have deregistered and exited.
    const registryStdin = part.service ? running[0]?.stdin ?? undefined : undefined;
    const child = startPart(part, secret, registryStdin, (code) => {
      if (stopping) return;
      if (!allStarted) {
        say(`${part.label} exited (${code}) while starting; stopping the others`, 'error');
        void stopAll(1);
        return;
      }
      // A part stopped on purpose (to see the others cope) or crashed: the rest carry on.
      say(`${part.label} exited (${code}); the others keep running. Start it again with: ${restartCommand(part, flags.dataDir)}`, 'warn');
    });
    running.push(child);
    if (child.pid !== undefined) started.push({ part: part.label, pid: child.pid, port: part.port });
    recordStartedParts(flags.dataDir, started);
    try {
      await waitUntilReady(part, registryUrl, secret, since);
    } catch (error) {
      say((error as Error).message, 'error');
      await stopAll(1);
    }
    say(`${part.label.padEnd(8)} ${serviceUrl(part.port, flags.host).padEnd(26)} ${part.service ? 'registered, passing' : 'ready'}`);
  }
  allStarted = true;
  say(`all parts are up: open ${serviceUrl(flags.portalPort, flags.host)} (registry at ${registryUrl}); Ctrl-C stops them all`);
  say(await dashboardLink(flags));
}

/** The address a browser on this machine uses for a server listening on `host`. */
function browserHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

/** A link that trades the admin token for a dashboard cookie; the token stays in admin.token. */
async function dashboardLink(flags: UpFlags): Promise<string> {
  const file = join(flags.dataDir, 'admin.token');
  const token = await readFile(file, 'utf8').then((text) => text.trim(), () => '');
  const base = `http://${browserHost(flags.host)}:${flags.registryPort}`;
  if (!token) return `dashboard: ${base} (found no admin token in ${file}: sign in with /login?token=<a token with the read scope>)`;
  return `dashboard: open ${base}/login?token=${encodeURIComponent(token)} (signs this browser in; the admin token is in ${file})`;
}

/** How to start one part again by hand, with its token read from its file (never printed). */
function restartCommand(part: Part, dataDir: string): string {
  const command = `npx roster ${part.args.join(' ')}`;
  if (part.token === null) return command;
  return `ROSTER_TOKEN=$(cat ${shellQuote(tokenFile(dataDir, part.token))}) ${command}`;
}

function shellQuote(text: string): string {
  return /^[\w./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * Refuses to start anything when a port is taken, naming the port and the option that changes
 * it, or, when the holder is a part an earlier `roster up` left running, that part and its pid.
 */
async function checkPortsFree(all: Part[], flags: UpFlags): Promise<void> {
  for (const part of all) {
    const server = createServer();
    server.listen(part.port, flags.host);
    const [outcome] = await Promise.race([once(server, 'listening').then(() => ['free']), once(server, 'error')]);
    if (outcome === 'free') {
      server.close();
      await once(server, 'close');
      continue;
    }
    const code = (outcome as NodeJS.ErrnoException).code;
    const leftover = code === 'EADDRINUSE' ? leftoverOnPort(flags.dataDir, part.port) : undefined;
    if (leftover) {
      say(`port ${part.port} is held by a ${leftover.part} left over from an earlier \`roster up\` (pid ${leftover.pid}); stop it with \`kill ${leftover.pid}\``, 'error');
      process.exit(1);
    }
    const why = code === 'EADDRINUSE' ? 'is already in use' : `cannot be used (${code})`;
    say(`port ${part.port} (${part.label}) ${why}: stop what holds it, or choose another port with ${part.portOption} <port>`, 'error');
    process.exit(1);
  }
}

function startPart(part: Part, secret: string | undefined, holdOpen: Writable | undefined, onUnexpectedExit: (code: string) => void): ChildProcess {
  // Each service registers with its own token; the registry needs none.
  const { ROSTER_TOKEN: _ignored, ...env } = process.env;
  // Same node, same loader flags (tsx in development), same entry script as this process.
  // stdin: a pipe never written to, closed by the kernel when this process dies however it
  // dies (kill -9 too): the part then stops by itself (../parent-watch.ts).
  const partEnv = { ...env, [PARENT_WATCH_ENV]: 'stdin', ...(secret === undefined ? {} : { ROSTER_TOKEN: secret }) };
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1] as string, ...part.args], {
    // fd 3, when given: a copy of the registry's stdin pipe, held and never written to.
    stdio: holdOpen ? ['pipe', 'pipe', 'pipe', holdOpen] : ['pipe', 'pipe', 'pipe'],
    env: partEnv,
    // Its own process group: Ctrl-C reaches only `roster up`, which stops the parts in order
    // (services deregister while the registry is still there to hear it).
    detached: true,
  });
  const prefix = `[${part.label}]`.padEnd(10);
  createInterface({ input: child.stdout! }).on('line', (line) => console.log(`${prefix} ${formatLogLine(line)}`));
  createInterface({ input: child.stderr! }).on('line', (line) => console.error(`${prefix} ${formatLogLine(line)}`));
  child.once('exit', (code, signal) => onUnexpectedExit(signal ?? `code ${code}`));
  return child;
}

/** The registry is ready when it answers its health check; a service when its instance is passing. */
async function waitUntilReady(part: Part, registryUrl: string, secret: string | undefined, sinceRevision: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (await isReady(part, registryUrl, secret, sinceRevision)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw partNotReady(part.label, READY_TIMEOUT_MS);
}

/** Asked with the part's own token: it may read what it registered. */
async function isReady(part: Part, registryUrl: string, secret: string | undefined, sinceRevision: number): Promise<boolean> {
  const path = part.service ? `/v1/services/${part.service}` : '/v1/health';
  const headers: Record<string, string> = secret === undefined ? {} : { authorization: `Bearer ${secret}` };
  try {
    const response = await fetch(`${registryUrl}${path}`, { headers, signal: AbortSignal.timeout(1000) });
    if (!response.ok) return false;
    if (!part.service) return true;
    const body = (await response.json()) as { service: { instances: Array<{ url: string; health: string; revision: number }> } };
    return body.service.instances.some((i) => i.health === 'passing' && i.revision > sinceRevision && new URL(i.url).port === String(part.port));
  } catch {
    return false;
  }
}

/** The registry's revision now (its health check is public); 0 when it does not answer. */
async function registryRevision(registryUrl: string): Promise<number> {
  try {
    const response = await fetch(`${registryUrl}/v1/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await response.json()) as { revision?: unknown };
    return typeof body.revision === 'number' ? body.revision : 0;
  } catch {
    return 0;
  }
}

/** SIGTERM each part, last started first, so that services deregister while the registry is up. */
async function stopInReverse(children: ChildProcess[]): Promise<void> {
  for (const child of [...children].reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.removeAllListeners('exit');
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
}

/** pino's numbers for the levels `say` uses. */
const LOG_LEVELS = { info: 30, warn: 40, error: 50 } as const;

/** Its own lines as its parts' look: "[roster]   02:10:45 INFO  message", the same formatter. */
function say(message: string, level: 'info' | 'warn' | 'error' = 'info'): void {
  const entry = { level: LOG_LEVELS[level], time: Date.now(), msg: message };
  console.log(`${'[roster]'.padEnd(10)} ${formatLogLine(JSON.stringify(entry))}`);
}

