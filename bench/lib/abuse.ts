// The clients of the abuse scenarios: a quiet one that registers at a steady pace and times each
// registration, a bulk loader, a flood of registrations, and watch streams that are never read.
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import { inBatches, openPool, sendJson } from './http.js';
import type { RegistryEndpoint } from './processes.js';
import type { Scope } from './scope.js';

/** TTL instances with the longest TTL: nothing is probed, nothing expires during a scenario. */
const TTL_MS = 3_600_000;

function registration(service: string, url: string, metadata?: Record<string, string>): Record<string, unknown> {
  return { service, url, ttlMs: TTL_MS, ...(metadata ? { metadata } : {}) };
}

/** Metadata of about `bytes` bytes as JSON (the registry takes up to 4096). */
export function metadataOf(bytes: number): Record<string, string> | undefined {
  return bytes > 0 ? { note: 'm'.repeat(Math.max(1, bytes - 12)) } : undefined;
}

export interface QuietClient {
  /** Stops registering; resolves with the latency (ms) of every registration made. */
  stop(): Promise<number[]>;
}

/**
 * Registers a new instance every `everyMs` on a connection of its own, timing each; a failed
 * registration counts as its time to fail (and is reported in `failures`).
 */
export function startQuietClient(scope: Scope, endpoint: RegistryEndpoint, everyMs: number, port: number): QuietClient & { readonly failures: number } {
  const pool = openPool(scope, endpoint, 1);
  const latencies: number[] = [];
  let failures = 0;
  let count = 0;
  let stopped = false;
  const tick = async (): Promise<void> => {
    const started = performance.now();
    const answer = await sendJson(pool, 'POST', '/v1/instances', registration('Quiet', `http://127.0.0.3:${port}/${count++}`)).catch(() => null);
    latencies.push(performance.now() - started);
    if (answer === null || (answer.status !== 200 && answer.status !== 201)) failures += 1;
  };
  const loop = (async () => {
    while (!stopped) {
      const started = performance.now();
      await tick();
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, everyMs - (performance.now() - started))));
    }
  })();
  return {
    get failures() {
      return failures;
    },
    async stop() {
      stopped = true;
      await loop;
      return latencies;
    },
  };
}

/** Registers `count` instances spread over `services` services, `concurrency` at a time. */
export async function registerMany(scope: Scope, endpoint: RegistryEndpoint, count: number, options: { from?: number; services: number; metadataBytes: number; concurrency: number }): Promise<void> {
  const pool = openPool(scope, endpoint, options.concurrency);
  const metadata = metadataOf(options.metadataBytes);
  const from = options.from ?? 0;
  const indexes = Array.from({ length: count }, (_, i) => from + i);
  await inBatches(indexes, options.concurrency, async (index) => {
    const body = registration(`Bulk${index % options.services}`, `http://127.0.0.2:${10_000 + (index % 50_000)}/${index}`, metadata);
    const answer = await sendJson(pool, 'POST', '/v1/instances', body);
    if (answer.status !== 200 && answer.status !== 201) throw new Error(`bulk registration ${index} answered ${answer.status}: ${answer.body.slice(0, 300)}`);
  });
}

export interface FloodResult {
  accepted: number;
  /** Answered 429 (a rate or instance limit). */
  refused: number;
  /** Any other answer or a failed request. */
  other: number;
  elapsedMs: number;
}

/** Registers new instances back to back on `connections` connections until `stop` is called. */
export function startRegistrationFlood(scope: Scope, endpoint: RegistryEndpoint, connections: number): { stop(): Promise<FloodResult> } {
  const pool: Dispatcher = openPool(scope, endpoint, connections);
  const result: FloodResult = { accepted: 0, refused: 0, other: 0, elapsedMs: 0 };
  const started = performance.now();
  let stopped = false;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (!stopped) {
      const index = next++;
      const answer = await sendJson(pool, 'POST', '/v1/instances', registration(`Flood${index % 8}`, `http://127.0.0.4:${20_000 + (index % 40_000)}/${index}`)).catch(() => null);
      if (answer?.status === 200 || answer?.status === 201) result.accepted += 1;
      else if (answer?.status === 429) result.refused += 1;
      else result.other += 1;
    }
  };
  const workers = Promise.all(Array.from({ length: connections }, worker));
  return {
    async stop() {
      stopped = true;
      await workers;
      result.elapsedMs = performance.now() - started;
      return result;
    },
  };
}

export interface StuckStreams {
  /** Streams the registry accepted (200), and refused (any other status). */
  readonly opened: number;
  readonly refused: number;
  close(): void;
}

/**
 * Opens `count` watch streams that read the status line and then nothing more: the registry's
 * writes fill the socket buffers and wait. `count` at most `concurrency` connecting at once.
 */
export async function openStuckStreams(endpoint: RegistryEndpoint, count: number, concurrency = 50): Promise<StuckStreams> {
  const { hostname, port } = new URL(endpoint.url);
  const sockets: Socket[] = [];
  let opened = 0;
  let refused = 0;
  const open = (): Promise<void> =>
    new Promise((resolve) => {
      const socket = connect(Number(port), hostname, () => {
        const auth = endpoint.token ? `authorization: Bearer ${endpoint.token}\r\n` : '';
        socket.write(`GET /v1/watch HTTP/1.1\r\nhost: ${hostname}:${port}\r\n${auth}\r\n`);
      });
      sockets.push(socket);
      let settled = false;
      const settle = (accepted: boolean): void => {
        if (settled) return;
        settled = true;
        if (accepted) opened += 1;
        else refused += 1;
        resolve();
      };
      socket.once('data', (chunk: Buffer) => {
        socket.pause();
        settle(/^HTTP\/1\.1 200 /.test(chunk.toString('latin1')));
      });
      socket.on('error', () => settle(false));
    });
  await inBatches(Array.from({ length: count }), concurrency, open);
  return {
    get opened() {
      return opened;
    },
    get refused() {
      return refused;
    },
    close() {
      for (const socket of sockets) socket.destroy();
    },
  };
}
