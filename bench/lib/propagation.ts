// The measuring loop shared by every propagation scenario (callback, watch stream, etcd): a
// provider appears; each subscriber's arrival time minus the time of the provider's call is one
// sample. The provider then disappears, and the next round waits until everyone heard of that.
import { performance } from 'node:perf_hooks';
import type { Arrivals } from './arrivals.js';
import { formatLatency, summarize, type Summary } from './stats.js';

export interface PropagationRounds {
  arrivals: Arrivals;
  subscribers: number;
  rounds: number;
  warmupRounds: number;
  roundTimeoutMs: number;
  /** Makes `key` appear; subscribers record "+key" when they hear of it. */
  appear: (key: string) => Promise<void>;
  /** Makes `key` disappear; subscribers record "-key". */
  disappear: (key: string) => Promise<void>;
  keyOf: (round: number) => string;
}

export async function measureRounds(plan: PropagationRounds): Promise<Summary> {
  const samples: number[] = [];
  for (let round = 0; round < plan.warmupRounds + plan.rounds; round++) {
    const key = plan.keyOf(round);
    const heard = plan.arrivals.waitFor(`+${key}`, plan.subscribers, plan.roundTimeoutMs);
    const begin = performance.now();
    await plan.appear(key);
    const times = await heard;
    if (round >= plan.warmupRounds) samples.push(...times.map((at) => at - begin));
    const gone = plan.arrivals.waitFor(`-${key}`, plan.subscribers, plan.roundTimeoutMs);
    await plan.disappear(key);
    await gone;
  }
  return summarize(samples);
}

/** etcd's figure for `subscribers` watchers, or why there is none. */
export function peerLatency(peer: ReadonlyMap<number, Summary> | string, subscribers: number): { cell: string; p99: number | undefined } {
  if (typeof peer === 'string') return { cell: `n/a (${peer})`, p99: undefined };
  const summary = peer.get(subscribers);
  return summary ? { cell: `${formatLatency(summary)} (watch)`, p99: summary.p99 } : { cell: 'n/a', p99: undefined };
}
