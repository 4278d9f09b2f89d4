// Scenario 3: a provider process is SIGKILLed (connections refused) or SIGSTOPped (it hangs:
// the kernel still accepts connections, nothing answers). Time from the signal until every
// dependent has received `Removed`, against the bound of the health-check settings. Trials run
// side by side, each with its own provider process and dependents, optionally next to many
// other instances being probed.
import { Arrivals } from '../lib/arrivals.js';
import { registerFarm, startFarm } from '../lib/heartbeat-farm.js';
import { inBatches, listenMany, openPool, register } from '../lib/http.js';
import { progress, sleep } from '../lib/log.js';
import { healthFlags, type BenchOptions, type HealthTimings } from '../lib/options.js';
import { startProvider, startRegistry } from '../lib/processes.js';
import { performance } from 'node:perf_hooks';
import { withScope, type Scope } from '../lib/scope.js';
import type { Dispatcher } from 'undici';
import { formatNumber } from '../lib/stats.js';
import { NONE, type Row } from '../lib/table.js';

export type FailureKind = 'kill' | 'hang';

export interface DetectionResult {
  kind: FailureKind;
  background: number;
  /** Signal → last dependent told, per trial. */
  timesMs: number[];
  boundMs: number;
}

/** Killed: the round's probes are refused at once; the last one fails after the retry delays. */
export function killBoundMs(health: HealthTimings): number {
  return health.intervalMs + (health.attempts - 1) * health.retryDelayMs;
}

/** Hung: each probe waits for its timeout as well (docs/api.md, "Health checks"). */
export function hangBoundMs(health: HealthTimings): number {
  return killBoundMs(health) + health.attempts * health.timeoutMs;
}

export async function runFailureDetection(options: BenchOptions, background: number): Promise<DetectionResult[]> {
  const { killTrials, hangTrials, dependents, health } = options.sizes.failure;
  return withScope(async (scope) => {
    const registry = await startRegistry(scope, { store: 'memory', flags: healthFlags(health), cpuProfileDir: options.cpuProfileDir });
    if (background > 0) await registerFarm(scope, registry, await startFarm(scope, 4), background);
    const pool = openPool(scope, registry, 8);
    const arrivals = new Arrivals();
    const kinds: FailureKind[] = [...Array<FailureKind>(killTrials).fill('kill'), ...Array<FailureKind>(hangTrials).fill('hang')];
    const times = await Promise.all(kinds.map((kind, trial) => runTrial({ scope, pool, arrivals, kind, trial, dependents, health })));
    const results = (['kill', 'hang'] as const).map((kind) => ({
      kind,
      background,
      timesMs: times.filter((_, i) => kinds[i] === kind),
      boundMs: kind === 'kill' ? killBoundMs(health) : hangBoundMs(health),
    }));
    for (const r of results) progress(`failure detection (${r.kind}, ${background} other instances): ${r.timesMs.map((t) => t.toFixed(0)).join(', ')} ms (bound ${r.boundMs} ms)`);
    return results;
  });
}

interface Trial {
  scope: Scope;
  pool: Dispatcher;
  arrivals: Arrivals;
  kind: FailureKind;
  trial: number;
  dependents: number;
  health: HealthTimings;
}

async function runTrial({ scope, pool, arrivals, kind, trial, dependents, health }: Trial): Promise<number> {
  const provider = await startProvider(scope);
  const service = `Provider${trial}`;
  await register(pool, { service, url: provider.url, heartbeatUrl: `${provider.url}/heartbeat` });
  const listeners = await listenMany(scope, dependents, () => (_req, res, body, at) => {
    res.end();
    const patch = JSON.parse(body) as { Removed?: Array<{ URL: string }> };
    for (const removed of patch.Removed ?? []) arrivals.record(`-${removed.URL}`, at);
  });
  await inBatches(listeners, 8, async ({ origin }) => {
    await register(pool, { service: `Dependent${trial}`, url: origin, requires: [service], updateUrl: `${origin}/services`, ttlMs: 3_600_000 });
  });
  // Let a probe round pass, then strike at a random point of the probe cycle.
  await sleep(health.intervalMs * 1.2 + Math.random() * health.intervalMs);
  arrivals.forget(`-${provider.url}`);
  const told = arrivals.waitFor(`-${provider.url}`, dependents, 2 * hangBoundMs(health) + 10_000);
  provider.child.kill(kind === 'kill' ? 'SIGKILL' : 'SIGSTOP');
  const struck = performance.now();
  const times = await told;
  return Math.max(...times) - struck;
}

const KIND_NAME: Record<FailureKind, string> = { kill: 'SIGKILL', hang: 'hang (SIGSTOP)' };

function boundText(kind: FailureKind, health: HealthTimings): string {
  const s = (ms: number): string => `${formatNumber(ms / 1000, 1)} s`;
  const base = `interval + ${health.attempts - 1} × retry delay`;
  return kind === 'kill'
    ? `≤ ${base} = ${s(killBoundMs(health))}`
    : `≤ ${base} + ${health.attempts} × timeout = ${s(hangBoundMs(health))}`;
}

export function failureRows(options: BenchOptions, results: readonly DetectionResult[]): Row[] {
  const { dependents, health } = options.sizes.failure;
  return results.map((r) => {
    const worst = Math.max(...r.timesMs);
    const mean = r.timesMs.reduce((a, b) => a + b, 0) / r.timesMs.length;
    return {
      scenario: `failure detection (${KIND_NAME[r.kind]})`,
      figure: `signal → all ${dependents} dependents told Removed; ${r.background.toLocaleString('en-US')} other instances probed; interval ${health.intervalMs} ms; worst of ${r.timesMs.length} (mean)`,
      target: boundText(r.kind, health),
      result: `${formatNumber(worst / 1000)} s (mean ${formatNumber(mean / 1000)} s)`,
      etcd: NONE,
      ratio: NONE,
      met: worst <= r.boundMs,
    };
  });
}
