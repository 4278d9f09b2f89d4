// HTTP on the load side: keep-alive pools towards the registry, and many small listeners that
// play the dependents (patch callbacks) and the heartbeat endpoints.
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import { instanceId } from '../../src/protocol/ids.js';
import { authHeaders, type RegistryEndpoint } from './processes.js';
import type { Scope } from './scope.js';

/** A keep-alive pool towards a registry; every request carries the registry's token. */
export function openPool(scope: Scope, registry: RegistryEndpoint, connections: number): Dispatcher {
  const pool = new Pool(registry.url, { connections, pipelining: 1, keepAliveTimeout: 30_000 });
  scope.defer(() => pool.destroy());
  const auth = authHeaders(registry);
  if (!auth.authorization) return pool;
  return pool.compose((dispatch) => (options, handler) => dispatch({ ...options, headers: { ...(options.headers as Record<string, string> | undefined), ...auth } }, handler));
}

export interface JsonAnswer {
  status: number;
  body: string;
}

export async function sendJson(pool: Dispatcher, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<JsonAnswer> {
  const res = await pool.request({
    method,
    path,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  return { status: res.statusCode, body: await res.body.text() };
}

async function expectStatus(answer: Promise<JsonAnswer>, ok: number[], what: string): Promise<JsonAnswer> {
  const result = await answer;
  if (!ok.includes(result.status)) throw new Error(`${what} answered ${result.status}: ${result.body.slice(0, 300)}`);
  return result;
}

export interface V1Registration {
  service: string;
  url: string;
  requires?: string[];
  updateUrl?: string;
  heartbeatUrl?: string;
  ttlMs?: number;
}

export function register(pool: Dispatcher, registration: V1Registration): Promise<JsonAnswer> {
  return expectStatus(sendJson(pool, 'POST', '/v1/instances', registration), [200, 201], `register ${registration.url}`);
}

export function deregister(pool: Dispatcher, url: string): Promise<JsonAnswer> {
  return expectStatus(sendJson(pool, 'DELETE', `/v1/instances/${instanceId(url)}`), [200], `deregister ${url}`);
}

/** Runs `work` over `items` with at most `concurrency` in flight. */
export async function inBatches<T>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** `at` is when the request arrived (performance.now()), before its body was read. */
export type Handler = (req: IncomingMessage, res: ServerResponse, body: string, at: number) => void;

export interface Listener {
  readonly server: Server;
  readonly origin: string;
}

export interface ListenOptions {
  /** How long idle keep-alive sockets are kept; default a minute, null: Node's default (5 s). */
  keepAliveTimeoutMs?: number | null;
}

/** `count` HTTP servers on 127.0.0.1:0, each calling `handler(index)` with the whole body. */
export async function listenMany(scope: Scope, count: number, handler: (index: number) => Handler, options: ListenOptions = {}): Promise<Listener[]> {
  const keepAliveTimeoutMs = options.keepAliveTimeoutMs === undefined ? 60_000 : options.keepAliveTimeoutMs;
  const listeners: Listener[] = [];
  scope.defer(() => Promise.all(listeners.map(closeServer)));
  for (let index = 0; index < count; index++) {
    const handle = handler(index);
    const server = createServer((req, res) => {
      const at = performance.now();
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => handle(req, res, body, at));
    });
    if (keepAliveTimeoutMs !== null) server.keepAliveTimeout = keepAliveTimeoutMs;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    listeners.push({ server, origin: `http://127.0.0.1:${port}` });
  }
  return listeners;
}

async function closeServer({ server }: Listener): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
