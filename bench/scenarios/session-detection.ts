// Session liveness vs probes: a provider process started with `startService` (from dist/), in
// session mode or probe mode, is SIGKILLed or SIGSTOPped; time from the signal until its
// dependent has received `Removed`. The registry runs with its default health and session
// settings. Trials run a few at a time, each with its own provider process and dependent.
import { performance } from 'node:perf_hooks';
import { pathToFileURL, fileURLToPath } from 'node:url';
import type { Dispatcher } from 'undici';
import { Arrivals } from '../lib/arrivals.js';
import { inBatches, listenMany, openPool, register } from '../lib/http.js';
import { progress, sleep } from '../lib/log.js';
import type { BenchOptions } from '../lib/options.js';
import { spawnChild, startRegistry, type RegistryProcess } from '../lib/processes.js';
import { killQuietly, withScope, type Scope } from '../lib/scope.js';
import { formatNumber, summarize } from '../lib/stats.js';
import { NONE, ratio, type Row } from '../lib/table.js';
import { ETCD_LEASE_TTL_S, runEtcdLeaseDetection } from './session-detection-etcd.js';

export type SessionFailure = 'kill' | 'stop';
export type LivenessMode = 'session' | 'probe';

export interface SessionDetectionResult {
  /** `etcd`: a lease at etcd's minimum TTL with keep-alive, a watcher on its key. */
  mode: LivenessMode | 'etcd';
  failure: SessionFailure;
  /** Signal → dependent told, per trial. */
  timesMs: number[];
}

const SERVICE_ENTRY = pathToFileURL(fileURLToPath(new URL('../../dist/service/index.js', import.meta.url))).href;

// A provider as a user's service would be: startService from the built package.
const PROVIDER_SOURCE = `
const { startService } = await import(${JSON.stringify(SERVICE_ENTRY)});
const service = await startService({
  name: process.env.NAME, host: '127.0.0.1', liveness: process.env.LIVENESS, registryUrl: process.env.REGISTRY,
  token: process.env.TOKEN || undefined, handleSignals: false, handler: (_req, res) => res.end('ok'),
});
console.log('port ' + new URL(service.url).port);
`;

/** Trials per mode and failure: at least 20 in a full run. */
function trialsOf(options: BenchOptions): number {
  return options.sizes.failure.killTrials >= 3 ? 20 : options.sizes.failure.killTrials;
}

const CONCURRENCY = 4;
/** Targets of the issue: SIGKILL told within 1 s, SIGSTOP within 3 s (session mode). */
const TARGET_MS: Record<SessionFailure, number> = { kill: 1000, stop: 3000 };

export async function runSessionDetection(options: BenchOptions): Promise<SessionDetectionResult[]> {
  const trials = trialsOf(options);
  return withScope(async (scope) => {
    const registry = await startRegistry(scope, { store: 'memory', cpuProfileDir: options.cpuProfileDir });
    const pool = openPool(scope, registry, 8);
    const arrivals = new Arrivals();
    const plan = (['session', 'probe'] as const).flatMap((mode) => (['kill', 'stop'] as const).flatMap((failure) => Array.from({ length: trials }, () => ({ mode, failure }))));
    const times: number[] = new Array<number>(plan.length);
    await inBatches(plan, CONCURRENCY, async ({ mode, failure }, index) => {
      times[index] = await runTrial({ scope, registry, pool, arrivals, mode, failure, trial: index });
    });
    const results: SessionDetectionResult[] = (['session', 'probe'] as const).flatMap((mode) =>
      (['kill', 'stop'] as const).map((failure) => ({ mode, failure, timesMs: times.filter((_, i) => plan[i]!.mode === mode && plan[i]!.failure === failure) })),
    );
    const etcd = await runEtcdLeaseDetection(['kill', 'stop'] as const, trials, (failure) => SIGNAL[failure]);
    for (const [failure, timesMs] of etcd) results.push({ mode: 'etcd', failure, timesMs });
    for (const r of results) progress(`session detection (${r.mode}, ${r.failure}): ${r.timesMs.map((t) => t.toFixed(0)).join(', ')} ms`);
    return results;
  });
}

interface Trial {
  scope: Scope;
  registry: RegistryProcess;
  pool: Dispatcher;
  arrivals: Arrivals;
  mode: LivenessMode;
  failure: SessionFailure;
  trial: number;
}

async function runTrial({ scope, registry, pool, arrivals, mode, failure, trial }: Trial): Promise<number> {
  const service = `Provider${trial}`;
  const provider = await startProvider(scope, registry, service, mode);
  const [listener] = await listenMany(scope, 1, () => (_req, res, body, at) => {
    res.end();
    const patch = JSON.parse(body) as { Removed?: Array<{ URL: string }> };
    for (const removed of patch.Removed ?? []) arrivals.record(`-${removed.URL}`, at);
  });
  const { origin } = listener!;
  await register(pool, { service: `Dependent${trial}`, url: origin, requires: [service], updateUrl: `${origin}/services`, ttlMs: 3_600_000 });
  // Strike at a random point of the ping or probe cycle.
  await sleep(1000 + Math.random() * 3000);
  const key = `-${provider.url}`;
  arrivals.forget(key);
  const told = arrivals.waitFor(key, 1, 30_000);
  provider.child.kill(SIGNAL[failure]);
  const struck = performance.now();
  const [at] = await told;
  killQuietly(provider.child, 'SIGKILL');
  return at! - struck;
}

async function startProvider(scope: Scope, registry: RegistryProcess, name: string, liveness: LivenessMode) {
  const env = { NAME: name, LIVENESS: liveness, REGISTRY: registry.url, TOKEN: registry.token ?? '', ROSTER_LOG_LEVEL: 'warn' };
  const handle = spawnChild(scope, process.execPath, ['--input-type=module', '-e', PROVIDER_SOURCE], env);
  // A stopped process cannot take SIGTERM: kill it outright at the end.
  scope.defer(() => killQuietly(handle.child, 'SIGKILL'));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the provider process did not start within 60 s:\n${handle.output()}`)), 60_000);
    handle.child.stdout!.on('data', (chunk: Buffer) => {
      const match = /port (\d+)/.exec(chunk.toString());
      if (!match) return;
      clearTimeout(timer);
      resolve(Number(match[1]));
    });
    handle.child.once('exit', () => reject(new Error(`the provider process exited:\n${handle.output()}`)));
  });
  return { ...handle, url: `http://127.0.0.1:${port}` };
}

const SIGNAL: Record<SessionFailure, NodeJS.Signals> = { kill: 'SIGKILL', stop: 'SIGSTOP' };

export function sessionDetectionRows(results: readonly SessionDetectionResult[]): Row[] {
  const etcdOf = (failure: SessionFailure): SessionDetectionResult | undefined => results.find((r) => r.mode === 'etcd' && r.failure === failure);
  return results.map((r) => {
    const summary = summarize(r.timesMs);
    if (r.mode === 'etcd') return etcdRow(r);
    const etcd = etcdOf(r.failure);
    const target = r.mode === 'session' ? TARGET_MS[r.failure] : null;
    return {
      scenario: `failure detection, ${r.mode} liveness (${SIGNAL[r.failure]})`,
      figure: `signal → dependent told Removed; startService provider; registry defaults; ${r.timesMs.length} trials: p50 / p99`,
      target: target === null ? 'reference (probes: interval + retries, + timeouts when hung)' : `p99 ≤ ${formatNumber(target / 1000, 1)} s`,
      result: `${formatNumber(summary.p50)} / ${formatNumber(summary.p99)} ms`,
      etcd: etcd ? p50p99(etcd.timesMs) : NONE,
      ratio: etcd ? ratio(summary.p99, summarize(etcd.timesMs).p99) : NONE,
      met: target === null ? null : summary.p99 <= target,
    };
  });
}

function p50p99(timesMs: readonly number[]): string {
  const summary = summarize(timesMs);
  return `${formatNumber(summary.p50)} / ${formatNumber(summary.p99)} ms`;
}

function etcdRow(r: SessionDetectionResult): Row {
  return {
    scenario: `failure detection, etcd lease (${SIGNAL[r.failure]})`,
    figure: `signal → watcher sees the key deleted; lease TTL ${ETCD_LEASE_TTL_S} s (etcd's minimum with its default 1 s election timeout), keep-alive held by the provider process (etcd3 client); ${r.timesMs.length} trials: p50 / p99`,
    target: 'reference',
    result: NONE,
    etcd: p50p99(r.timesMs),
    ratio: NONE,
    met: null,
  };
}
