// Fairness: one client floods the registry (registrations back to back; then watch streams it
// never reads) while a quiet client registers once every 100 ms. The quiet client's latency
// alone and during each flood, with the registry's default limits and a token for each client.
import { openStuckStreams, startQuietClient, startRegistrationFlood, type FloodResult } from '../lib/abuse.js';
import { progress, sleep } from '../lib/log.js';
import type { BenchOptions } from '../lib/options.js';
import type { RegistryEndpoint } from '../lib/processes.js';
import { startRegistryHost } from '../lib/registry-host.js';
import { withScope, type Scope } from '../lib/scope.js';
import { formatLatency, formatNumber, summarize, type Summary } from '../lib/stats.js';
import { NONE, type Row } from '../lib/table.js';

/** The quiet client's p99 during a flood may be at most this many times its p99 alone. */
export const FAIRNESS_P99_FACTOR = 2;

export interface QuietFigures {
  latency: Summary;
  failures: number;
}

export interface FairnessResult {
  everyMs: number;
  alone: QuietFigures;
  registrationFlood: QuietFigures & { connections: number; flood: FloodResult };
  streamFlood: QuietFigures & { asked: number; opened: number; refused: number };
}

export async function runFairness(options: BenchOptions): Promise<FairnessResult> {
  const { phaseMs, everyMs, floodConnections, floodStreams } = options.sizes.fairness;
  return withScope(async (scope) => {
    const registry = await startRegistryHost(scope, { tokens: { quiet: 'register', flooder: 'register' } });
    const quiet = registry.as.quiet!;
    const flooder = registry.as.flooder!;
    await measureQuiet(scope, quiet, everyMs, Math.min(1000, phaseMs), 1);
    progress(`fairness: the quiet client alone for ${phaseMs / 1000} s`);
    const alone = await measureQuiet(scope, quiet, everyMs, phaseMs, 2);

    progress(`fairness: the quiet client while another token floods registrations on ${floodConnections} connections`);
    const flood = startRegistrationFlood(scope, flooder, floodConnections);
    await sleep(500);
    const duringRegistrations = await measureQuiet(scope, quiet, everyMs, phaseMs, 3);
    const floodResult = await flood.stop();
    progress(`fairness: flood ${floodResult.accepted} accepted, ${floodResult.refused} refused (429), ${floodResult.other} other`);
    await sleep(1000);

    progress(`fairness: the quiet client while another token holds ${floodStreams} watch streams it never reads`);
    const streams = await openStuckStreams(flooder, floodStreams);
    const duringStreams = await measureQuiet(scope, quiet, everyMs, phaseMs, 4);
    streams.close();
    progress(`fairness: streams ${streams.opened} opened, ${streams.refused} refused`);
    return {
      everyMs,
      alone,
      registrationFlood: { ...duringRegistrations, connections: floodConnections, flood: floodResult },
      streamFlood: { ...duringStreams, asked: floodStreams, opened: streams.opened, refused: streams.refused },
    };
  });
}

async function measureQuiet(scope: Scope, endpoint: RegistryEndpoint, everyMs: number, durationMs: number, port: number): Promise<QuietFigures> {
  const quiet = startQuietClient(scope, endpoint, everyMs, port);
  await sleep(durationMs);
  const latencies = await quiet.stop();
  return { latency: summarize(latencies), failures: quiet.failures };
}

export function fairnessRows(result: FairnessResult): Row[] {
  const scenario = 'fairness';
  const row = { scenario, etcd: NONE, ratio: NONE };
  const quiet = `the quiet client's registration latency (one every ${result.everyMs} ms, its own token)`;
  const bound = result.alone.latency.p99 * FAIRNESS_P99_FACTOR;
  const target = `p99 ≤ ${FAIRNESS_P99_FACTOR} × alone (${formatNumber(bound)} ms), none failed`;
  const figures = (figures: QuietFigures): string => `${formatLatency(figures.latency)}${figures.failures ? `; ${figures.failures} failed` : ''}`;
  const met = (figures: QuietFigures): boolean => figures.latency.p99 <= bound && figures.failures === 0;
  const { flood, connections } = result.registrationFlood;
  const floodRate = ((flood.accepted + flood.refused + flood.other) / flood.elapsedMs) * 1000;
  const streams = result.streamFlood;
  return [
    { ...row, figure: `${quiet}, alone`, target: NONE, result: figures(result.alone), met: null },
    {
      ...row,
      figure: `${quiet}, while another token registers back to back on ${connections} connections (${formatNumber(floodRate)} requests/s: ${flood.accepted.toLocaleString('en-US')} accepted, ${flood.refused.toLocaleString('en-US')} refused 429, ${flood.other} other)`,
      target,
      result: figures(result.registrationFlood),
      met: met(result.registrationFlood),
    },
    {
      ...row,
      figure: `${quiet}, while another token holds watch streams it never reads (${streams.asked} asked: ${streams.opened} opened, ${streams.refused} refused)`,
      target,
      result: figures(streams),
      met: met(streams),
    },
  ];
}
