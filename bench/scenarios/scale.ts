// Scenario 4: many registered instances probed at the default interval, their heartbeats served
// by a few real listeners. The registry's CPU and RSS over a window, and memory per instance.
// Then the floor: the same probes sent by a bare undici loop in its own process.
import { registerFarm, startFarm, type Farm } from '../lib/heartbeat-farm.js';
import { openPool, sendJson } from '../lib/http.js';
import { progress, sleep } from '../lib/log.js';
import type { BenchOptions } from '../lib/options.js';
import { spawnChild, startRegistry, type RegistryEndpoint } from '../lib/processes.js';
import { openFds, rssBytes, sampleUsage, type UsageSample } from '../lib/proc.js';
import { withScope, type Scope } from '../lib/scope.js';
import { formatNumber } from '../lib/stats.js';
import { NONE, type Row } from '../lib/table.js';

/** The registry's default probe interval: the scenario runs at it. */
const INTERVAL_MS = 3000;

export interface Usage extends UsageSample {
  /** Probes answered per second during the window. */
  probesPerSecond: number;
  /** Open file descriptors (mostly sockets) at the end of the window. */
  fds: number;
}

export interface ScaleResult {
  instances: number;
  roster: Usage;
  /** RSS before any instance was registered. */
  baselineRssBytes: number;
  bytesPerInstance: number;
  /** Instances that were not passing at the end (the registry fell behind its probes). */
  critical: number;
  floor: Usage;
}

export async function runScale(options: BenchOptions): Promise<ScaleResult> {
  const { instances, listeners, settleMs, windowMs, floorWindowMs } = options.sizes.scale;
  return withScope(async (scope) => {
    const farm = await startFarm(scope, listeners);
    const measured = await withScope(async (inner) => {
      const registry = await startRegistry(inner, { store: 'memory', cpuProfileDir: options.cpuProfileDir });
      await sleep(500);
      const baselineRssBytes = rssBytes(registry.pid);
      progress(`scale: registering ${instances} instances`);
      await registerFarm(inner, registry, farm, instances);
      await sleep(settleMs);
      progress(`scale: measuring the registry for ${windowMs / 1000} s`);
      const roster = await measure(farm, registry.pid, windowMs);
      const critical = await countCritical(inner, registry);
      return { roster, baselineRssBytes, critical };
    });
    progress(`scale: measuring a bare undici prober for ${floorWindowMs / 1000} s`);
    const floor = await bareProber(scope, farm, instances, settleMs, floorWindowMs);
    const result = { instances, ...measured, bytesPerInstance: (measured.roster.rssMeanBytes - measured.baselineRssBytes) / instances, floor };
    for (const [who, usage] of [['registry', result.roster], ['bare prober', floor]] as const) {
      progress(`scale, ${who}: CPU ${usage.cpuPercent.toFixed(1)} % (kernel ${usage.systemPercent.toFixed(1)} %), RSS ${(usage.rssMeanBytes / 1e6).toFixed(1)} MB, ${Math.round(usage.probesPerSecond)} probes/s, ${usage.fds} fds`);
    }
    return result;
  });
}

async function measure(farm: Farm, pid: number, windowMs: number): Promise<Usage> {
  const probesBefore = farm.probes();
  const usage = await sampleUsage(pid, windowMs);
  return { ...usage, probesPerSecond: ((farm.probes() - probesBefore) / usage.windowMs) * 1000, fds: openFds(pid) };
}

async function countCritical(scope: Scope, registry: RegistryEndpoint): Promise<number> {
  const { status, body } = await sendJson(openPool(scope, registry, 1), 'GET', '/v1/services');
  if (status !== 200) throw new Error(`GET /v1/services answered ${status}`);
  const { services } = JSON.parse(body) as { services: Array<{ critical: number }> };
  return services.reduce((sum, service) => sum + service.critical, 0);
}

// Each heartbeat URL (as farmInstance() makes them) on its own timer, at the interval and jitter
// of the registry's probes (each interval shortened by up to 10 %), through one undici Agent with
// at most 16 sockets per origin, sent the way the registry sends them: dispatch() with a handler
// that drops the body, one 1 s timer per probe, and a roster-signature (one HMAC) per probe.
const BARE_PROBER = `
const { Agent } = require('undici');
const { createHmac, randomBytes } = require('node:crypto');
const key = randomBytes(32).toString('base64url');
const sign = (path) => { const t = Date.now(); return 't=' + t + ',v1=' + createHmac('sha256', key).update(t + '.').update('GET ' + path).digest('hex'); };
const agent = new Agent({ keepAliveTimeout: 10000, connections: 16 });
const origins = process.env.BENCH_ORIGINS.split(' ');
const interval = Number(process.env.BENCH_INTERVAL_MS);
const next = (origin, path) => setTimeout(probe, interval * (1 - Math.random() * 0.1), origin, path);
const probe = (origin, path) => {
  let controller;
  let done = false;
  const end = () => { if (!done) { done = true; clearTimeout(timer); next(origin, path); } };
  const timer = setTimeout(() => { controller?.abort(new Error('timeout')); end(); }, 1000);
  agent.dispatch({ origin, path, method: 'GET', headers: { 'roster-signature': sign(path) } }, {
    onRequestStart(c) { controller = c; },
    onResponseStart() {},
    onResponseData() {},
    onResponseEnd: end,
    onResponseError: end,
  });
};
for (let i = 0; i < Number(process.env.BENCH_COUNT); i++) {
  setTimeout(probe, Math.random() * interval, origins[i % origins.length], '/hb/' + i);
}
`;

async function bareProber(scope: Scope, farm: Farm, instances: number, settleMs: number, windowMs: number): Promise<Usage> {
  const env = { BENCH_ORIGINS: farm.origins.join(' '), BENCH_COUNT: String(instances), BENCH_INTERVAL_MS: String(INTERVAL_MS) };
  const prober = spawnChild(scope, process.execPath, ['-e', BARE_PROBER], env);
  await sleep(Math.max(settleMs, INTERVAL_MS));
  const usage = await measure(farm, prober.pid, windowMs);
  await prober.stop();
  return usage;
}

const MB = 1_000_000;

export function scaleRows(result: ScaleResult): Row[] {
  const scenario = 'scale';
  const { roster, floor } = result;
  const load = `${result.instances.toLocaleString('en-US')} instances probed every 2.7–3 s (${formatNumber(roster.probesPerSecond)} probes/s, ${result.critical} not passing at the end, ${roster.fds} open fds), over ${formatNumber(roster.windowMs / 1000, 0)} s`;
  const row = { scenario, etcd: NONE, ratio: NONE };
  return [
    { ...row, figure: `registry CPU: ${load}`, target: '< 30 % of one core (10,000 instances)', result: `${formatNumber(roster.cpuPercent, 1)} % of one core`, met: roster.cpuPercent < 30 && result.critical === 0 },
    { ...row, figure: `registry RSS, mean (max): ${load}`, target: '< 150 MB (10,000 instances)', result: `${formatNumber(roster.rssMeanBytes / MB, 1)} MB (${formatNumber(roster.rssMaxBytes / MB, 1)} MB)`, met: roster.rssMaxBytes < 150 * MB },
    { ...row, figure: `memory per instance: (mean RSS − ${formatNumber(result.baselineRssBytes / MB, 1)} MB of the empty registry) / instances`, target: NONE, result: `${formatNumber(result.bytesPerInstance / 1000, 2)} kB`, met: null },
    {
      ...row,
      figure: `floor: the same probes from a bare undici dispatch() loop in its own process (${formatNumber(floor.probesPerSecond)} probes/s, ${floor.fds} open fds), over ${formatNumber(floor.windowMs / 1000, 0)} s: CPU; RSS`,
      target: NONE,
      result: `${formatNumber(floor.cpuPercent, 1)} % of one core; ${formatNumber(floor.rssMeanBytes / MB, 1)} MB`,
      met: null,
    },
  ];
}
