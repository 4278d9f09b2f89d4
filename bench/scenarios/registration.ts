// Scenario 1: concurrent clients register and deregister distinct instances through /v1 over
// keep-alive connections. One registration = POST (timed) followed by its DELETE.
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import { deregister, openPool, register } from '../lib/http.js';
import { runLoad, type LoadResult } from '../lib/load.js';
import { progress } from '../lib/log.js';
import type { BenchOptions } from '../lib/options.js';
import { cpuTimeMs } from '../lib/proc.js';
import { startEtcd, startRegistry } from '../lib/processes.js';
import { withScope } from '../lib/scope.js';
import { formatNumber } from '../lib/stats.js';
import { loadRows } from '../lib/load-rows.js';
import type { Row } from '../lib/table.js';

export type StoreKind = 'memory' | 'sqlite' | 'etcd';

export function registrationCycles(pool: Dispatcher, concurrency: number, durationMs: number, maxCount: number, tag: string): Promise<LoadResult> {
  return runLoad({
    concurrency,
    durationMs,
    maxCount,
    task: async (index) => {
      // No heartbeat URL: a TTL instance, so that the registry probes nothing during the run.
      const url = `http://127.0.0.1:9/${tag}/${index}`;
      const begin = performance.now();
      await register(pool, { service: `Reg${index % 16}`, url, ttlMs: 60_000 });
      const latency = performance.now() - begin;
      await deregister(pool, url);
      return latency;
    },
  });
}

export interface RegistrationResult extends LoadResult {
  /** The registry's CPU use during the measured run, in % of one core: near 100, it is the limit. */
  registryCpuPercent: number;
}

export async function runRegistration(options: BenchOptions, store: StoreKind): Promise<RegistrationResult> {
  const { concurrency, durationMs, warmupMs, maxCount } = options.sizes.registration;
  return withScope(async (scope) => {
    // The etcd store (cluster mode) gets an etcd member of its own.
    const flags = store === 'etcd' ? ['--etcd-endpoints', (await startEtcd(scope)).endpoint] : [];
    const registry = await startRegistry(scope, { store, flags, cpuProfileDir: options.cpuProfileDir });
    const pool = openPool(scope, registry, concurrency);
    await registrationCycles(pool, concurrency, warmupMs, maxCount, 'warmup');
    const cpuBefore = cpuTimeMs(registry.pid);
    const load = await registrationCycles(pool, concurrency, durationMs, maxCount, 'run');
    const registryCpuPercent = ((cpuTimeMs(registry.pid) - cpuBefore) / load.elapsedMs) * 100;
    progress(`registration (${store}): ${Math.round(load.perSecond)}/s, p99 ${load.latency.p99.toFixed(2)} ms, ${load.errors} errors, registry CPU ${registryCpuPercent.toFixed(0)} %`);
    if (load.count === 0) throw new Error(`no registration succeeded: ${load.firstError}`);
    return { ...load, registryCpuPercent };
  });
}

const TARGET_PER_SECOND: Record<StoreKind, number | null> = { memory: 10_000, sqlite: 3_000, etcd: null };
const STORE_NAME: Record<StoreKind, string> = { memory: 'memory store', sqlite: 'SQLite store', etcd: 'etcd store' };

/** `peer`: etcd's leased puts, or why there is no etcd figure. */
export function registrationRows(options: BenchOptions, store: StoreKind, result: RegistrationResult, peer: LoadResult | string): Row[] {
  return loadRows({
    scenario: `registration (${STORE_NAME[store]})`,
    rateFigure: `registrations/s: ${options.sizes.registration.concurrency} keep-alive clients, each registration followed by its deregistration; registry CPU ${formatNumber(result.registryCpuPercent, 0)} % of one core`,
    latencyFigure: 'registration latency (POST /v1/instances)',
    targetPerSecond: TARGET_PER_SECOND[store],
    roster: result,
    peer,
    peerWork: 'put with a lease',
  });
}
