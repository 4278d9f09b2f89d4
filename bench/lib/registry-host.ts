// A registry started with startRegistry() from dist/ in its own process, for the scenarios that
// hand it options the command line has no flag for (limits, several tokens) and that measure
// its event loop from the inside: the longest stall (perf_hooks.monitorEventLoopDelay) is read
// and reset over IPC. Every client of these scenarios has a token of its own.
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { spawnChild, type ChildHandle, type RegistryEndpoint } from './processes.js';
import type { Scope } from './scope.js';

const REGISTRY_MODULE = fileURLToPath(new URL('../../dist/registry/index.js', import.meta.url));

/** The host: start the registry, report where it listens, answer event-loop questions. */
const HOST_SOURCE = `
import { monitorEventLoopDelay } from 'node:perf_hooks';
const { startRegistry } = await import(process.env.BENCH_REGISTRY_MODULE);
const running = await startRegistry({ host: '127.0.0.1', port: 0, store: 'memory', ...JSON.parse(process.env.BENCH_REGISTRY_OPTIONS) });
const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();
process.on('message', (message) => {
  if (message === 'loop-reset') {
    loop.reset();
    process.send({ type: 'loop-reset' });
  } else if (message === 'loop-read') {
    process.send({ type: 'loop', maxMs: loop.max / 1e6, p99Ms: loop.percentile(99) / 1e6 });
  }
});
process.on('SIGTERM', () => running.close().then(() => process.exit(0), () => process.exit(1)));
process.send({ type: 'ready', url: running.url });
`;

export type TokenScope = 'read' | 'register' | 'admin';

export interface HostOptions {
  /** Limits to change from the registry's defaults (`limits` of startRegistry). */
  limits?: Record<string, number>;
  /** Tokens to make besides the admin's: name → scope. */
  tokens?: Record<string, TokenScope>;
}

export interface EventLoopReading {
  /** The longest delay of the event loop since the last reset, in ms. */
  maxMs: number;
  p99Ms: number;
}

export interface RegistryHost extends ChildHandle, RegistryEndpoint {
  /** The endpoint of each token asked for, by name. */
  readonly as: Record<string, RegistryEndpoint>;
  loopReset(): Promise<void>;
  loopRead(): Promise<EventLoopReading>;
}

export async function startRegistryHost(scope: Scope, options: HostOptions = {}): Promise<RegistryHost> {
  if (!existsSync(REGISTRY_MODULE)) throw new Error(`${REGISTRY_MODULE} is missing: run \`npm run build\` first`);
  const adminToken = secret();
  const secrets = Object.fromEntries(Object.keys(options.tokens ?? {}).map((name) => [name, secret()]));
  const tokensFile = join(scope.tempDir('registry-host'), 'tokens.json');
  const tokens = Object.entries(options.tokens ?? {}).map(([name, scope]) => ({ name, secret: secrets[name], scopes: [scope] }));
  writeFileSync(tokensFile, JSON.stringify({ tokens }), { mode: 0o600 });
  const registryOptions = { auth: { adminToken, tokensFile }, ...(options.limits ? { limits: options.limits } : {}) };
  const env = { BENCH_REGISTRY_MODULE: pathToFileURL(REGISTRY_MODULE).href, BENCH_REGISTRY_OPTIONS: JSON.stringify(registryOptions) };
  const handle = spawnChild(scope, process.execPath, ['--input-type=module', '-e', HOST_SOURCE], env, { ipc: true });
  const { url } = await nextMessage<{ url: string }>(handle, 'ready', 30_000);
  const as = Object.fromEntries(Object.entries(secrets).map(([name, token]) => [name, { url, token }]));
  return {
    ...handle,
    url,
    token: adminToken,
    as,
    async loopReset() {
      handle.child.send('loop-reset');
      await nextMessage(handle, 'loop-reset', 10_000);
    },
    async loopRead() {
      handle.child.send('loop-read');
      return nextMessage<EventLoopReading>(handle, 'loop', 10_000);
    },
  };
}

function secret(): string {
  return randomBytes(24).toString('base64url');
}

function nextMessage<T>(handle: ChildHandle, type: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`the registry host sent no "${type}" within ${timeoutMs} ms:\n${handle.output()}`)), timeoutMs);
    const onMessage = (message: { type?: string }): void => {
      if (message?.type === type) finish(null, message as T);
    };
    const onExit = (): void => finish(new Error(`the registry host exited:\n${handle.output()}`));
    function finish(error: Error | null, value?: T): void {
      clearTimeout(timer);
      handle.child.off('message', onMessage);
      handle.child.off('exit', onExit);
      if (error) reject(error);
      else resolve(value as T);
    }
    handle.child.on('message', onMessage);
    handle.child.once('exit', onExit);
  });
}
