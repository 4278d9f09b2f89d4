// Child processes of the bench: the registry under test, etcd, and providers to kill.
// Each is adopted by a scope, so it is stopped when the scenario ends, even on failure.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killQuietly, type Scope } from './scope.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const ROSTER_CLI = fileURLToPath(new URL('../../dist/cli/roster.js', import.meta.url));

const OUTPUT_KEPT = 16 * 1024;

export interface ChildHandle {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The last few KiB the process printed, for error messages. */
  output(): string;
  alive(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** With `ipc`, the child can be sent messages (`child.send`). */
export function spawnChild(scope: Scope, command: string, args: string[], env: Record<string, string> = {}, { ipc = false } = {}): ChildHandle {
  const stdio = ipc ? (['ignore', 'pipe', 'pipe', 'ipc'] as const) : (['ignore', 'pipe', 'pipe'] as const);
  const child = spawn(command, args, { stdio: [...stdio], cwd: REPO_ROOT, env: { ...process.env, ...env } });
  scope.adopt(child);
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-OUTPUT_KEPT);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  const handle: ChildHandle = {
    child,
    pid: child.pid ?? -1,
    output: () => output,
    alive,
    async stop(graceMs = 5000) {
      if (!alive()) return;
      killQuietly(child, 'SIGTERM');
      const timer = setTimeout(() => killQuietly(child, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  scope.defer(() => handle.stop());
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  return handle;
}

/** A port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** Polls `url` until it answers 200 (and `accept` likes the body), or throws after `timeoutMs`. */
export async function waitForHttp(url: string, handle: ChildHandle, timeoutMs = 15_000, accept: (body: string) => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!handle.alive()) throw new Error(`process exited before ${url} answered:\n${handle.output()}`);
    const ok = await fetch(url, { signal: AbortSignal.timeout(1000) })
      .then(async (res) => res.status === 200 && accept(await res.text()))
      .catch(() => false);
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms:\n${handle.output()}`);
}

/** Where a registry answers, and the bearer token every request to it carries (null: none). */
export interface RegistryEndpoint {
  readonly url: string;
  readonly token: string | null;
}

export interface RegistryProcess extends ChildHandle, RegistryEndpoint {
  /** Its --data-dir (registry.db, admin.token). */
  readonly dataDir: string;
}

export interface RegistryLaunch {
  store: 'memory' | 'sqlite' | 'etcd';
  /** More `roster registry` flags, e.g. health-check timings. */
  flags?: string[];
  /** Write a V8 CPU profile of the registry here when it stops (`node --cpu-prof`). */
  cpuProfileDir?: string | null;
  /** Keep the registry's default limits; otherwise those its load would hit are raised (RAISED_LIMITS). */
  defaultLimits?: boolean;
}

/**
 * The scenarios register thousands of instances a second with one token and open many streams
 * and connections: limits raised far above that load keep their figures comparable with runs
 * made before the limits existed. A scenario's own `--limit` flags come after, and win.
 */
export const RAISED_LIMITS: Readonly<Record<string, number>> = {
  maxInstances: 10_000_000,
  maxInstancesPerService: 10_000_000,
  maxInstancesPerCredential: 10_000_000,
  writesPerWindow: 1_000_000_000,
  maxWatchStreams: 1_000_000,
  maxWatchStreamsPerCredential: 1_000_000,
  maxConnections: 1_000_000,
};

function limitFlags(launch: RegistryLaunch): string[] {
  if (launch.defaultLimits) return [];
  return Object.entries(RAISED_LIMITS).flatMap(([name, value]) => ['--limit', `${name}=${value}`]);
}

/**
 * `node dist/cli/roster.js registry` on a free loopback port, quiet, ready when /v1/health answers.
 * Authentication is on, as by default: the bench uses the admin token the registry writes on
 * its first start (`<data-dir>/admin.token`) for every request.
 */
export async function startRegistry(scope: Scope, launch: RegistryLaunch): Promise<RegistryProcess> {
  if (!existsSync(ROSTER_CLI)) throw new Error(`${ROSTER_CLI} is missing: run \`npm run build\` first`);
  const port = await freePort();
  const dataDir = scope.tempDir(`registry-${launch.store}`);
  const profile = launch.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', launch.cpuProfileDir] : [];
  const args = [...profile, ROSTER_CLI, 'registry', '--host', '127.0.0.1', '--port', String(port), '--store', launch.store, '--data-dir', dataDir, ...limitFlags(launch), ...(launch.flags ?? [])];
  const handle = spawnChild(scope, process.execPath, args, { ROSTER_LOG_LEVEL: 'warn' });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/v1/health`, handle);
  return { ...handle, url, token: readAdminToken(dataDir), dataDir };
}

/** The admin token a registry wrote into its data dir; null when it wrote none (auth off). */
export function readAdminToken(dataDir: string): string | null {
  const path = join(dataDir, 'admin.token');
  return existsSync(path) ? readFileSync(path, 'utf8').trim() : null;
}

/** The headers that authenticate a request to `registry`. */
export function authHeaders(registry: RegistryEndpoint): Record<string, string> {
  return registry.token === null ? {} : { authorization: `Bearer ${registry.token}` };
}

export interface EtcdProcess extends ChildHandle {
  readonly endpoint: string;
}

export function etcdBinary(): string | null {
  const candidates = [process.env.ETCD_BIN, '/usr/bin/etcd', '/usr/local/bin/etcd'];
  return candidates.find((path): path is string => typeof path === 'string' && existsSync(path)) ?? null;
}

/**
 * One etcd member on loopback with a temporary data dir, killed when the scope ends. A port
 * found free can be taken by another process before etcd binds it: then etcd exits at once,
 * and another pair of ports is tried.
 */
export async function startEtcd(scope: Scope): Promise<EtcdProcess> {
  const binary = etcdBinary();
  if (!binary) throw new Error('etcd is not installed (Debian: apt-get install etcd-server)');
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEtcdOnce(scope, binary);
    } catch (error) {
      if (attempt >= 3 || !/process exited/.test((error as Error).message)) throw error;
    }
  }
}

async function startEtcdOnce(scope: Scope, binary: string): Promise<EtcdProcess> {
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const args = [
    '--name', 'bench', '--data-dir', scope.tempDir('etcd'),
    '--listen-client-urls', client, '--advertise-client-urls', client,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `bench=${peer}`, '--logger=zap', '--log-level=warn',
  ];
  const handle = spawnChild(scope, binary, args);
  await waitForHttp(`${client}/health`, handle, 15_000, (body) => body.includes('"health":"true"'));
  return { ...handle, endpoint: client };
}

// A provider that answers 200 to everything, printing its port; run with `node -e`.
const PROVIDER_SOURCE = `
const server = require('node:http').createServer((req, res) => { req.resume(); res.end('ok'); });
server.listen(0, '127.0.0.1', () => console.log('port ' + server.address().port));
`;

export interface ProviderProcess extends ChildHandle {
  readonly url: string;
}

/** A separate process serving a heartbeat, so that it can be SIGKILLed or SIGSTOPped. */
export async function startProvider(scope: Scope): Promise<ProviderProcess> {
  const handle = spawnChild(scope, process.execPath, ['-e', PROVIDER_SOURCE]);
  // A stopped process cannot take SIGTERM: kill it outright at the end.
  scope.defer(() => killQuietly(handle.child, 'SIGKILL'));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the provider process did not start within 10 s')), 10_000);
    handle.child.stdout!.on('data', (chunk: Buffer) => {
      const match = /port (\d+)/.exec(chunk.toString());
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    handle.child.once('exit', () => reject(new Error(`the provider process exited:\n${handle.output()}`)));
  });
  return { ...handle, url: `http://127.0.0.1:${port}` };
}
