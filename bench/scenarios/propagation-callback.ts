// Scenario 2: one provider and N dependents, each a real HTTP listener registered with an
// update URL. Time from the provider's register call to each dependent's patch callback.
import { Arrivals } from '../lib/arrivals.js';
import { deregister, inBatches, listenMany, openPool, register } from '../lib/http.js';
import { progress } from '../lib/log.js';
import type { BenchOptions } from '../lib/options.js';
import { spawnChild, startRegistry } from '../lib/processes.js';
import { measureRounds, peerLatency } from '../lib/propagation.js';
import { withScope, type Scope } from '../lib/scope.js';
import { formatLatency, type Summary } from '../lib/stats.js';
import { NONE, ratio, type Row } from '../lib/table.js';

interface PatchBody {
  Added?: Array<{ URL: string }>;
  Removed?: Array<{ URL: string }>;
}

/** Dependents are TTL instances with the longest TTL: no probes, as etcd's watchers have none. */
const QUIET_TTL_MS = 3_600_000;

export interface CallbackResult {
  /** Through the registry. */
  roster: Summary;
  /** A bare undici fan-out from another process to the same listeners: the floor of this setup. */
  floor: Summary;
}

export async function runCallbackPropagation(options: BenchOptions, dependents: number): Promise<CallbackResult> {
  const { rounds, warmupRounds, roundTimeoutMs } = options.sizes.propagation;
  return withScope(async (scope) => {
    const registry = await startRegistry(scope, { store: 'memory', cpuProfileDir: options.cpuProfileDir });
    const arrivals = new Arrivals();
    const listeners = await listenMany(scope, dependents, () => (_req, res, body, at) => {
      res.end();
      const patch = JSON.parse(body) as PatchBody;
      for (const added of patch.Added ?? []) arrivals.record(`+${added.URL}`, at);
      for (const removed of patch.Removed ?? []) arrivals.record(`-${removed.URL}`, at);
    });
    const pool = openPool(scope, registry, 16);
    await inBatches(listeners, 16, async ({ origin }) => {
      await register(pool, { service: 'Dependent', url: origin, requires: ['Provider'], updateUrl: `${origin}/services`, ttlMs: QUIET_TTL_MS });
    });
    const provider = openPool(scope, registry, 1);
    const summary = await measureRounds({
      arrivals,
      subscribers: dependents,
      rounds,
      warmupRounds,
      roundTimeoutMs,
      keyOf: (round) => `http://127.0.0.1:9/provider/${round}`,
      appear: async (url) => void (await register(provider, { service: 'Provider', url, ttlMs: QUIET_TTL_MS })),
      disappear: async (url) => void (await deregister(provider, url)),
    });
    progress(`propagation by callback to ${dependents}: ${formatLatency(summary)}`);
    const floor = await fanOutFloor(scope, options, arrivals, listeners.map(({ origin }) => `${origin}/services`));
    progress(`bare undici fan-out to ${dependents}: ${formatLatency(floor)}`);
    return { roster: summary, floor };
  });
}

// The registry's part of a callback, and nothing else: POST the same patch to every target
// through one undici Agent, all in one synchronous loop, as soon as a message says so; each
// signed as the registry signs patches (one HMAC of the body per target).
const FAN_OUT_SOURCE = `
const { Agent, request } = require('undici');
const { createHmac, randomBytes } = require('node:crypto');
const agent = new Agent({ connections: 8, keepAliveTimeout: 60000 });
const key = randomBytes(32).toString('base64url');
const sign = (body) => { const t = Date.now(); return 't=' + t + ',v1=' + createHmac('sha256', key).update(t + '.').update(body).digest('hex'); };
process.on('message', ({ targets, body }) => {
  for (const target of targets) {
    const headers = { 'content-type': 'application/json', 'roster-signature': sign(body) };
    request(target, { dispatcher: agent, method: 'POST', headers, body })
      .then((res) => res.body.dump(), () => {});
  }
});
process.on('disconnect', () => process.exit(0));
`;

async function fanOutFloor(scope: Scope, options: BenchOptions, arrivals: Arrivals, targets: string[]): Promise<Summary> {
  const { rounds, warmupRounds, roundTimeoutMs } = options.sizes.propagation;
  const sender = spawnChild(scope, process.execPath, ['-e', FAN_OUT_SOURCE], {}, { ipc: true });
  const patch = (added: string[], removed: string[]): string =>
    JSON.stringify({ Added: added.map((URL) => ({ Name: 'Provider', URL })), Removed: removed.map((URL) => ({ Name: 'Provider', URL })) });
  const send = (body: string): Promise<void> =>
    new Promise((resolve, reject) => sender.child.send({ targets, body }, (error) => (error ? reject(error) : resolve())));
  return measureRounds({
    arrivals,
    subscribers: targets.length,
    rounds,
    warmupRounds,
    roundTimeoutMs,
    keyOf: (round) => `http://127.0.0.1:9/bare/${round}`,
    appear: (url) => send(patch([url], [])),
    disappear: (url) => send(patch([], [url])),
  });
}

export const CALLBACK_P99_TARGET_MS = 20;

export function callbackRows(results: ReadonlyMap<number, CallbackResult>, peer: ReadonlyMap<number, Summary> | string): Row[] {
  return [...results].flatMap(([dependents, { roster, floor }]) => {
    const etcd = peerLatency(peer, dependents);
    const at = dependents.toLocaleString('en-US');
    return [
      {
        scenario: 'propagation by callback',
        figure: `register → patch callback at ${at} dependents (HTTP listeners)`,
        target: `p99 ≤ ${CALLBACK_P99_TARGET_MS} ms`,
        result: formatLatency(roster),
        etcd: etcd.cell,
        ratio: ratio(roster.p99, etcd.p99),
        met: roster.p99 <= CALLBACK_P99_TARGET_MS,
      },
      {
        scenario: 'propagation by callback',
        figure: `floor: the same patch POSTed to the same ${at} listeners by a bare undici loop in another process (no registry)`,
        target: NONE,
        result: formatLatency(floor),
        etcd: NONE,
        ratio: NONE,
        met: null,
      },
    ];
  });
}
