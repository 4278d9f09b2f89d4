// GET load from autocannon: far cheaper per request than a JavaScript client loop, so that the
// load generator is not what is measured. Bounded by duration and by a request count.
import autocannon from 'autocannon';
import type { LoadResult } from './load.js';

export interface HammerOptions {
  connections: number;
  durationMs: number;
  maxCount: number;
  /** Sent with every request (the registry's Authorization). */
  headers?: Record<string, string>;
}

export async function hammer(url: string, { connections, durationMs, maxCount, headers = {} }: HammerOptions): Promise<LoadResult> {
  const result = await autocannon({
    url,
    headers,
    connections,
    pipelining: 1,
    duration: Math.max(1, Math.round(durationMs / 1000)),
    maxOverallRequests: Math.max(maxCount, connections),
    timeout: 10,
  });
  const ok = result['2xx'];
  const errors = result.errors + result.non2xx;
  const elapsedMs = result.duration * 1000;
  return {
    count: ok,
    errors,
    firstError: errors > 0 ? `${result.non2xx} non-2xx answers, ${result.errors} connection errors` : null,
    elapsedMs,
    perSecond: (ok / elapsedMs) * 1000,
    latency: { count: ok, p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max, mean: result.latency.average },
  };
}
