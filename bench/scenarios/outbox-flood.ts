// Outbox flood: dependents whose update URLs refuse connections, and many changes of the service
// they require. Every change queues a patch for every dependent; the registry (SQLite store,
// default limits) must keep what it queues, in memory and on disk, within outboxBytesTotal.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import { deregister, inBatches, openPool, register, sendJson } from '../lib/http.js';
import { progress } from '../lib/log.js';
import type { BenchOptions } from '../lib/options.js';
import { rssBytes } from '../lib/proc.js';
import { freePort, startRegistry } from '../lib/processes.js';
import { withScope } from '../lib/scope.js';
import { formatNumber } from '../lib/stats.js';
import { NONE, type Row } from '../lib/table.js';

const MiB = 1024 * 1024;
/** The default of limits.outboxBytesTotal (src/registry/limits.ts). */
export const OUTBOX_TOTAL_DEFAULT_BYTES = 64 * MiB;

export interface OutboxFloodResult {
  dependents: number;
  changes: number;
  elapsedMs: number;
  /** Largest roster_notification_queue_bytes seen, sampled after each change. */
  queuedBytesMax: number;
  queuedBytesEnd: number;
  pendingEnd: number;
  /** registry.db and its WAL, before the flood and at its end. */
  dbBytesBefore: number;
  dbBytesAfter: number;
  rssBytesEnd: number;
  rejections: Record<string, number>;
  dropped: Record<string, number>;
}

/** `flags`: more `roster registry` flags, e.g. `--limit outboxBytesTotal=…` to compare with the defaults. */
export async function runOutboxFlood(options: BenchOptions, flags: string[] = []): Promise<OutboxFloodResult> {
  const { dependents, changes } = options.sizes.outboxFlood;
  return withScope(async (scope) => {
    const registry = await startRegistry(scope, { store: 'sqlite', flags });
    const pool = openPool(scope, registry, 32);
    const dead = await freePort();
    progress(`outbox flood: registering ${dependents} dependents whose update URLs refuse connections`);
    await inBatches(Array.from({ length: dependents }, (_, i) => i), 32, async (i) => {
      const url = `http://127.0.0.1:${dead}/dependent/${i}`;
      await register(pool, { service: 'Dependent', url, requires: ['Provider'], updateUrl: `${url}/services`, ttlMs: 600_000 });
    });
    const dbBytesBefore = dbBytes(registry.dataDir);
    progress(`outbox flood: ${changes} changes of Provider`);
    const begin = performance.now();
    let queuedBytesMax = 0;
    for (let change = 0; change < changes; change++) {
      await changeProvider(pool, dead, change);
      if (change % 10 === 9 || change === changes - 1) queuedBytesMax = Math.max(queuedBytesMax, (await scrape(pool)).queuedBytes);
    }
    const elapsedMs = performance.now() - begin;
    const end = await scrape(pool);
    const result = { dependents, changes, elapsedMs, queuedBytesMax: Math.max(queuedBytesMax, end.queuedBytes), queuedBytesEnd: end.queuedBytes, pendingEnd: end.pending };
    progress(`outbox flood: ${formatNumber(end.queuedBytes / MiB, 1)} MiB queued at the end, ${end.pending} patches`);
    return { ...result, dbBytesBefore, dbBytesAfter: dbBytes(registry.dataDir), rssBytesEnd: rssBytes(registry.pid), rejections: end.rejections, dropped: end.dropped };
  });
}

// A new provider instance, or the oldest one leaving: a change either way, a patch to every dependent.
async function changeProvider(pool: Dispatcher, port: number, change: number): Promise<void> {
  if (change % 2 === 1) return void (await deregister(pool, `http://127.0.0.1:${port}/provider/${change - 1}`));
  await register(pool, { service: 'Provider', url: `http://127.0.0.1:${port}/provider/${change}`, ttlMs: 600_000 });
}

interface Scrape {
  queuedBytes: number;
  pending: number;
  rejections: Record<string, number>;
  dropped: Record<string, number>;
}

async function scrape(pool: Dispatcher): Promise<Scrape> {
  const { body } = await sendJson(pool, 'GET', '/metrics');
  const lines = body.split('\n').filter((line) => !line.startsWith('#'));
  const value = (line: string): number => Number(line.split(' ').at(-1));
  const byLabel = (name: string, label: string): Record<string, number> =>
    Object.fromEntries(lines.filter((line) => line.startsWith(`${name}{`)).map((line) => [new RegExp(`${label}="([^"]*)"`).exec(line)?.[1] ?? '', value(line)]));
  const queued = lines.find((line) => line.startsWith('roster_notification_queue_bytes '));
  const pending = lines.filter((line) => line.startsWith('roster_notification_queue_depth{')).reduce((sum, line) => sum + value(line), 0);
  return { queuedBytes: queued ? value(queued) : Number.NaN, pending, rejections: byLabel('roster_limit_rejections_total', 'limit'), dropped: byLabel('roster_notifications_dropped_total', 'reason') };
}

function dbBytes(dataDir: string): number {
  const size = (file: string): number => {
    try {
      return statSync(join(dataDir, file)).size;
    } catch {
      return 0;
    }
  };
  return size('registry.db') + size('registry.db-wal');
}

export function outboxFloodRows(result: OutboxFloodResult): Row[] {
  const scenario = 'outbox flood';
  const row = { scenario, etcd: NONE, ratio: NONE };
  const setting = `${result.dependents.toLocaleString('en-US')} dependents whose update URLs refuse, ${result.changes} changes of what they require, in ${formatNumber(result.elapsedMs / 1000, 1)} s (SQLite store, default limits)`;
  const nonZero = (counts: Record<string, number>): string => Object.entries(counts).filter(([, n]) => n > 0).map(([name, n]) => `${name} ${n.toLocaleString('en-US')}`).join(', ') || 'none';
  return [
    {
      ...row,
      figure: `queued patch bytes, max (at the end): ${setting}`,
      target: `≤ ${OUTBOX_TOTAL_DEFAULT_BYTES / MiB} MiB (outboxBytesTotal)`,
      result: `${formatNumber(result.queuedBytesMax / MiB, 1)} MiB (${formatNumber(result.queuedBytesEnd / MiB, 1)} MiB, ${result.pendingEnd.toLocaleString('en-US')} patches)`,
      met: result.queuedBytesMax <= OUTBOX_TOTAL_DEFAULT_BYTES,
    },
    {
      ...row,
      figure: 'database growth during the flood (registry.db and its WAL); registry RSS at the end',
      target: NONE,
      result: `+${formatNumber((result.dbBytesAfter - result.dbBytesBefore) / MiB, 1)} MiB; ${formatNumber(result.rssBytesEnd / MiB, 0)} MiB`,
      met: null,
    },
    { ...row, figure: 'limits reached (roster_limit_rejections_total); patches dropped by reason', target: NONE, result: `${nonZero(result.rejections)}; ${nonZero(result.dropped)}`, met: null },
  ];
}
