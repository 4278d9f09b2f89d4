// Memory under stuck watchers: a catalog of instances with large metadata, then watch streams
// that read their status line and nothing more. The registry's RSS meanwhile, and whether a
// quiet client is still served.
import { openStuckStreams, registerMany, startQuietClient } from '../lib/abuse.js';
import { progress, sleep } from '../lib/log.js';
import type { BenchOptions } from '../lib/options.js';
import { rssBytes, sampleUsage, type UsageSample } from '../lib/proc.js';
import { startRegistryHost } from '../lib/registry-host.js';
import { withScope } from '../lib/scope.js';
import { formatLatency, formatNumber, summarize, type Summary } from '../lib/stats.js';
import { NONE, type Row } from '../lib/table.js';

const MB = 1_000_000;
export const STUCK_WATCHERS_RSS_TARGET_MB = 400;
const QUIET_EVERY_MS = 100;

export interface StuckWatchersResult {
  instances: number;
  metadataBytes: number;
  watchers: number;
  opened: number;
  refused: number;
  emptyRssBytes: number;
  loadedRssBytes: number;
  usage: UsageSample;
  quiet: Summary;
  quietFailures: number;
}

export async function runStuckWatchers(options: BenchOptions): Promise<StuckWatchersResult> {
  const { instances, watchers, metadataBytes, windowMs } = options.sizes.stuckWatchers;
  return withScope(async (scope) => {
    // Default limits, but for the bulk load: one token registers the whole catalog quickly.
    const limits = { writesPerWindow: 1_000_000, maxInstancesPerCredential: 100_000 };
    const registry = await startRegistryHost(scope, { limits, tokens: { quiet: 'register', watcher: 'read' } });
    await sleep(500);
    const emptyRssBytes = rssBytes(registry.pid);
    progress(`stuck watchers: registering ${instances} instances with ${metadataBytes} bytes of metadata each`);
    await registerMany(scope, registry, instances, { services: 20, metadataBytes, concurrency: 32 });
    const loadedRssBytes = rssBytes(registry.pid);
    progress(`stuck watchers: opening ${watchers} watch streams that never read`);
    const streams = await openStuckStreams(registry.as.watcher!, watchers);
    progress(`stuck watchers: ${streams.opened} opened, ${streams.refused} refused; measuring for ${windowMs / 1000} s with a quiet client`);
    const quiet = startQuietClient(scope, registry.as.quiet!, QUIET_EVERY_MS, 1);
    const usage = await sampleUsage(registry.pid, windowMs, 250);
    const latencies = await quiet.stop();
    streams.close();
    progress(`stuck watchers: RSS max ${(usage.rssMaxBytes / MB).toFixed(1)} MB`);
    return { instances, metadataBytes, watchers, opened: streams.opened, refused: streams.refused, emptyRssBytes, loadedRssBytes, usage, quiet: summarize(latencies), quietFailures: quiet.failures };
  });
}

export function stuckWatchersRows(result: StuckWatchersResult): Row[] {
  const scenario = 'memory under stuck watchers';
  const row = { scenario, etcd: NONE, ratio: NONE };
  const setting = `${result.instances.toLocaleString('en-US')} instances (${formatNumber(result.metadataBytes / 1000, 1)} kB of metadata each), ${result.watchers} watch streams that never read (${result.opened} opened, ${result.refused} refused), over ${formatNumber(result.usage.windowMs / 1000, 0)} s`;
  return [
    {
      ...row,
      figure: `registry RSS, max (mean): ${setting}`,
      target: `< ${STUCK_WATCHERS_RSS_TARGET_MB} MB`,
      result: `${formatNumber(result.usage.rssMaxBytes / MB, 1)} MB (${formatNumber(result.usage.rssMeanBytes / MB, 1)} MB)`,
      met: result.usage.rssMaxBytes < STUCK_WATCHERS_RSS_TARGET_MB * MB,
    },
    { ...row, figure: 'registry RSS before the watchers: empty; with the catalog', target: NONE, result: `${formatNumber(result.emptyRssBytes / MB, 1)} MB; ${formatNumber(result.loadedRssBytes / MB, 1)} MB`, met: null },
    {
      ...row,
      figure: `a quiet client's registration latency meanwhile (one every ${QUIET_EVERY_MS} ms, its own token)`,
      target: 'every registration answered',
      result: `${formatLatency(result.quiet)}${result.quietFailures ? `; ${result.quietFailures} failed` : ''}`,
      met: result.quietFailures === 0 && result.quiet.count > 0,
    },
  ];
}
