// The two rows of a load scenario measured beside etcd: requests per second, then latency.
import type { LoadResult } from './load.js';
import { formatNumber } from './stats.js';
import { NONE, ratio, type Row } from './table.js';

export interface LoadRowsInput {
  scenario: string;
  rateFigure: string;
  latencyFigure: string;
  /** A minimum rate, or null where there is no target. */
  targetPerSecond: number | null;
  roster: LoadResult;
  /** etcd's figures for the same work, or why there are none. */
  peer: LoadResult | string;
  /** What etcd did, e.g. "put with a lease". */
  peerWork: string;
}

export function loadRows({ scenario, rateFigure, latencyFigure, targetPerSecond, roster, peer, peerWork }: LoadRowsInput): Row[] {
  const peerLoad = typeof peer === 'string' ? undefined : peer;
  const etcd = (text: (load: LoadResult) => string): string => (peerLoad ? `${text(peerLoad)} (${peerWork})` : `n/a (${peer as string})`);
  const rate = (load: LoadResult): string => `${formatNumber(load.perSecond)}/s`;
  const latency = (load: LoadResult): string => `p50 ${formatNumber(load.latency.p50)} / p99 ${formatNumber(load.latency.p99)} ms`;
  return [
    {
      scenario,
      figure: rateFigure,
      target: targetPerSecond === null ? NONE : `≥ ${formatNumber(targetPerSecond)}/s`,
      result: `${rate(roster)}${roster.errors > 0 ? ` (${roster.errors} failed)` : ''}`,
      etcd: etcd(rate),
      ratio: ratio(roster.perSecond, peerLoad?.perSecond),
      met: targetPerSecond === null ? null : roster.perSecond >= targetPerSecond,
    },
    {
      scenario,
      figure: latencyFigure,
      target: NONE,
      result: latency(roster),
      etcd: etcd(latency),
      ratio: ratio(roster.latency.p99, peerLoad?.latency.p99),
      met: null,
    },
  ];
}
