// Large catalog: GET /v1/state of tens of thousands of instances. How long one read takes, the
// longest event-loop stall inside the registry while serving it (perf_hooks in the registry's
// process), and a quiet client's registrations while several readers read in a loop.
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import { registerMany, startQuietClient } from '../lib/abuse.js';
import { openPool } from '../lib/http.js';
import { runLoad } from '../lib/load.js';
import { progress, sleep } from '../lib/log.js';
import type { BenchOptions } from '../lib/options.js';
import { startRegistryHost, type EventLoopReading } from '../lib/registry-host.js';
import { withScope } from '../lib/scope.js';
import { formatLatency, formatNumber, summarize, type Summary } from '../lib/stats.js';
import { NONE, type Row } from '../lib/table.js';

export const STALL_TARGET_MS = 50;
const QUIET_EVERY_MS = 100;
/** The idle registry is watched this long first: what the machine alone does to its event loop. */
const IDLE_MS = 2000;

export interface LargeCatalogPoint {
  instances: number;
  stateBytes: number;
  /** The registry's event loop while nothing is asked of it. */
  idleLoop: EventLoopReading;
  /** One read alone, the state built for it. */
  oneReadMs: number;
  oneReadLoop: EventLoopReading;
  readers: number;
  reads: Summary;
  readersLoop: EventLoopReading;
  quiet: Summary;
  quietFailures: number;
}

export async function runLargeCatalog(options: BenchOptions): Promise<LargeCatalogPoint[]> {
  const { instances, metadataBytes, readers, windowMs } = options.sizes.largeCatalog;
  return withScope(async (scope) => {
    // The default instance limits stop at 10,000 per credential; a bulk load needs a high write rate.
    const limits = { maxInstancesPerCredential: 100_000, writesPerWindow: 10_000_000 };
    const registry = await startRegistryHost(scope, { limits, tokens: { quiet: 'register', reader: 'read' } });
    const pool = openPool(scope, registry.as.reader!, readers);
    const points: LargeCatalogPoint[] = [];
    let registered = 0;
    for (const size of instances) {
      progress(`large catalog: registering up to ${size} instances`);
      await registerMany(scope, registry, size - registered, { from: registered, services: 50, metadataBytes, concurrency: 32 });
      registered = size;
      await sleep(500);
      await registry.loopReset();
      await sleep(IDLE_MS);
      const idleLoop = await registry.loopRead();
      await registry.loopReset();
      const started = performance.now();
      const stateBytes = await readState(pool);
      const oneReadMs = performance.now() - started;
      const oneReadLoop = await registry.loopRead();
      progress(`large catalog: ${size} instances, ${(stateBytes / 1e6).toFixed(1)} MB in ${oneReadMs.toFixed(0)} ms, longest stall ${oneReadLoop.maxMs.toFixed(1)} ms (idle ${idleLoop.maxMs.toFixed(1)} ms); now ${readers} readers for ${windowMs / 1000} s`);
      await registry.loopReset();
      const quiet = startQuietClient(scope, registry.as.quiet!, QUIET_EVERY_MS, points.length + 1);
      const load = await runLoad({ concurrency: readers, durationMs: windowMs, maxCount: 1_000_000, task: () => readState(pool).then(() => undefined) });
      const latencies = await quiet.stop();
      const readersLoop = await registry.loopRead();
      points.push({ instances: size, stateBytes, idleLoop, oneReadMs, oneReadLoop, readers, reads: load.latency, readersLoop, quiet: summarize(latencies), quietFailures: quiet.failures });
    }
    return points;
  });
}

/** Reads GET /v1/state to its end; returns its length in bytes. */
async function readState(pool: Dispatcher): Promise<number> {
  const answer = await pool.request({ method: 'GET', path: '/v1/state', headersTimeout: 60_000, bodyTimeout: 60_000 });
  let bytes = 0;
  for await (const chunk of answer.body) bytes += (chunk as Buffer).length;
  if (answer.statusCode !== 200) throw new Error(`GET /v1/state answered ${answer.statusCode}`);
  return bytes;
}

export function largeCatalogRows(points: readonly LargeCatalogPoint[]): Row[] {
  const scenario = 'large catalog';
  const row = { scenario, etcd: NONE, ratio: NONE };
  return points.flatMap((point): Row[] => {
    const size = `${point.instances.toLocaleString('en-US')} instances (${formatNumber(point.stateBytes / 1e6, 1)} MB)`;
    const stall = Math.max(point.oneReadLoop.maxMs, point.readersLoop.maxMs);
    return [
      {
        ...row,
        figure: `GET /v1/state, ${size}: one read alone; ${point.readers} readers in a loop while a quiet client registers every ${QUIET_EVERY_MS} ms (${point.reads.count} reads)`,
        target: NONE,
        result: `${formatNumber(point.oneReadMs)} ms; ${formatLatency(point.reads)}`,
        met: null,
      },
      {
        ...row,
        figure: `longest event-loop stall in the registry while serving them, ${size}: one read alone; ${point.readers} readers (the idle registry, over ${IDLE_MS / 1000} s before: ${formatNumber(point.idleLoop.maxMs)} ms)`,
        target: `≤ ${STALL_TARGET_MS} ms`,
        result: `${formatNumber(point.oneReadLoop.maxMs)} ms; ${formatNumber(point.readersLoop.maxMs)} ms`,
        met: stall <= STALL_TARGET_MS,
      },
      {
        ...row,
        figure: `the quiet client's registration latency while ${point.readers} readers read, ${size}`,
        target: NONE,
        result: `${formatLatency(point.quiet)}${point.quietFailures ? `; ${point.quietFailures} failed` : ''}`,
        met: null,
      },
    ];
  });
}
