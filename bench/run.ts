// `npm run bench`: runs every scenario on loopback, prints the results table, writes
// RESULTS.md and the propagation chart. See `npm run bench -- --help`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { progress } from './lib/log.js';
import { parseBenchArgs, type BenchOptions, type ScenarioName } from './lib/options.js';
import { describeMachine, resultsMarkdown } from './lib/report.js';
import { propagationChart, type ChartSeries } from './lib/svg.js';
import { failedRow, markdownTable, type Row } from './lib/table.js';
import type { Summary } from './lib/stats.js';
import { runEtcdPeer, type EtcdResult } from './scenarios/etcd-peer.js';
import { failureRows, runFailureDetection, type DetectionResult } from './scenarios/failure-detection.js';
import { runSessionDetection, sessionDetectionRows, type SessionDetectionResult } from './scenarios/session-detection.js';
import { runSessionScale, sessionScaleRows, type SessionScaleResult } from './scenarios/session-scale.js';
import { lookupRows, runLookups, type LookupsResult } from './scenarios/lookups.js';
import { CALLBACK_P99_TARGET_MS, callbackRows, runCallbackPropagation } from './scenarios/propagation-callback.js';
import { runWatchPropagation, WATCH_UNAVAILABLE, watchP99TargetMs, watchRows, type WatchResult } from './scenarios/propagation-watch.js';
import { registrationRows, runRegistration, type StoreKind } from './scenarios/registration.js';
import { runScale, scaleRows, type ScaleResult } from './scenarios/scale.js';
import { fairnessRows, runFairness, type FairnessResult } from './scenarios/fairness.js';
import { runStuckWatchers, stuckWatchersRows, type StuckWatchersResult } from './scenarios/stuck-watchers.js';
import { largeCatalogRows, runLargeCatalog, type LargeCatalogPoint } from './scenarios/large-catalog.js';
import { outboxFloodRows, runOutboxFlood, type OutboxFloodResult } from './scenarios/outbox-flood.js';

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown } | { ok: false; skipped: true };

const CHART_FILE = 'propagation.svg';

const NOTES = [
  'Every process runs on loopback: the registry (`node dist/cli/roster.js registry`, logs at warn) and etcd each in their own process; the load generator, the dependents, the watchers and the heartbeat listeners in the bench process.',
  'Authentication is on, as by default: every request to the registry (registrations, deregistrations, lookups, watch streams) carries `Authorization: Bearer <admin token>`, the token the registry writes to `<data-dir>/admin.token` on its first start. The registry signs every patch and every probe it sends (`roster-signature`, one HMAC-SHA256 each); the floors sign theirs the same way; the listeners do not check signatures.',
  'Registration: closed loop of keep-alive clients (undici Pool); each registers a distinct TTL instance (POST /v1/instances, timed) and then deregisters it (DELETE). The etcd store (cluster mode) writes to an etcd member of its own. etcd column: grant a lease and put the key with it (timed), then revoke the lease (which deletes the key), over one etcd3 client.',
  "Propagation: one provider registers (a new URL each round) and N subscribers hear of it. Latency = arrival at the subscriber (its request seen by the listener, or the event chunk read from its stream) minus the moment the provider's register call was made. Dependents have the longest TTL so that no probes run. A warm-up round is discarded; keep-alive sockets stay warm between rounds. Watch stream: one GET /v1/watch?services=Provider connection per watcher. etcd: one prefix watch per watcher, 100 watchers per etcd3 client, each client its own HTTP/2 connection (grpc `use_local_subchannel_pool`); latency from the put call to the watcher's event.",
  'Propagation floor: the same patch POSTed to the same listeners by a bare undici loop in another process, started by an IPC message: what any Node.js registry using undici could reach with these listeners, all in one process, on this machine.',
  'Watch floor: a bare node:http server in another process holding the same number of event streams writes one change event to all of them when told by an IPC message.',
  'Failure detection: each trial is its own provider process, probed through its heartbeat URL, struck at a random point of its probe cycle (SIGKILL: connections refused; SIGSTOP: the kernel still accepts connections, nothing answers). The time runs from the signal until the last of its dependents received the patch with Removed. The bound is the documented one (docs/api.md, "Health checks"); jitter (±10 % of the interval) can add up to 0.3 s.',
  "Scale: instances registered with heartbeat URLs served by 4 listeners in the bench process (Node's default keep-alive timeout), probed at the default 3 s interval (each shortened by up to 10 % at random). CPU = utime + stime from /proc/<pid>/stat over the window (the progress log gives the kernel's part); RSS = VmRSS from /proc/<pid>/status sampled every second; fds = entries of /proc/<pid>/fd. Floor: the same probe schedule from a bare loop of undici dispatch() calls (16 sockets per origin, one timer per probe) in its own process.",
  'Lookups: wrk (one thread; autocannon when wrk is not installed) with keep-alive connections on GET /v1/services/{name}; the plain node:http server answering the same body to the same load is the ceiling of this machine. etcd: prefix range reads over one etcd3 client (the grpc-js client, not etcd, is the limit there).',
  "Fairness, memory under stuck watchers, large catalog: the registry runs as `startRegistry()` from dist/ in its own process (memory store), so that the scenario can give it options and each client a token of its own (a tokens file); it measures its own event loop with `perf_hooks.monitorEventLoopDelay` (5 ms resolution), read over IPC. The quiet client registers a new TTL instance every 100 ms on one keep-alive connection and times each POST /v1/instances. Fairness runs with the registry's default limits: the flooding token registers back to back (a 429 counts as an answer), then opens watch streams that read their status line and never more. Memory under stuck watchers and large catalog raise only the write rate and the instances per credential, for the bulk load; RSS is VmRSS sampled every 250 ms.",
  'Outbox flood: the registry as `roster registry --store sqlite` with its default limits; the dependents are TTL instances whose update URLs are on one loopback port nothing listens on (connections refused), the changes alternate a new Provider instance and the removal of the one before. Queued bytes = `roster_notification_queue_bytes`, scraped every 10 changes and at the end; database growth = registry.db plus its WAL, from after the dependents registered to the end of the changes.',
];

async function attempt<T>(options: BenchOptions, scenario: ScenarioName, run: () => Promise<T>): Promise<Outcome<T>> {
  if (!options.only.has(scenario)) return { ok: false, skipped: true };
  progress(`scenario: ${scenario}`);
  try {
    return { ok: true, value: await run() };
  } catch (error) {
    progress(`scenario ${scenario} failed: ${(error as Error).stack ?? String(error)}`);
    return { ok: false, error };
  }
}

async function eachOf<K, T>(keys: readonly K[], run: (key: K) => Promise<T>): Promise<Map<K, T>> {
  const results = new Map<K, T>();
  for (const key of keys) results.set(key, await run(key));
  return results;
}

function rowsOf<T>(outcome: Outcome<T>, scenario: string, build: (value: T) => Row[]): Row[] {
  if (outcome.ok) return build(outcome.value);
  return 'skipped' in outcome ? [] : [failedRow(scenario, outcome.error)];
}

async function main(): Promise<number> {
  const options = parseBenchArgs(process.argv.slice(2));
  const startedAt = new Date();
  const machine = describeMachine();
  if (options.cpuProfileDir) mkdirSync(options.cpuProfileDir, { recursive: true });
  const { dependents } = options.sizes.propagation;
  const stores: StoreKind[] = ['memory', 'sqlite', 'etcd'];

  const registration = await attempt(options, 'registration', () => eachOf(stores, (store) => runRegistration(options, store)));
  const callback = await attempt(options, 'propagation', () => eachOf(dependents, (n) => runCallbackPropagation(options, n)));
  const watch = await attempt(options, 'watch', async () => {
    const results = new Map<number, WatchResult>();
    for (const n of dependents) {
      const result = await runWatchPropagation(options, n);
      results.set(n, result);
      if (result === WATCH_UNAVAILABLE) dependents.forEach((m) => results.set(m, WATCH_UNAVAILABLE));
      if (result === WATCH_UNAVAILABLE) break;
    }
    return results;
  });
  const lookups = await attempt<LookupsResult>(options, 'lookups', () => runLookups(options));
  const failure = await attempt<DetectionResult[]>(options, 'failure', async () => [...(await eachOf(options.sizes.failure.background, (n) => runFailureDetection(options, n))).values()].flat());
  const scale = await attempt<ScaleResult>(options, 'scale', () => runScale(options));
  const etcd = await attempt<EtcdResult>(options, 'etcd', () => runEtcdPeer(options));
  const fairness = await attempt<FairnessResult>(options, 'fairness', () => runFairness(options));
  const stuckWatchers = await attempt<StuckWatchersResult>(options, 'stuck-watchers', () => runStuckWatchers(options));
  const largeCatalog = await attempt<LargeCatalogPoint[]>(options, 'large-catalog', () => runLargeCatalog(options));
  const outboxFlood = await attempt<OutboxFloodResult>(options, 'outbox-flood', () => runOutboxFlood(options));
  const sessionDetection = await attempt<SessionDetectionResult[]>(options, 'session-detection', () => runSessionDetection(options));
  const sessionScale = await attempt<SessionScaleResult>(options, 'session-scale', () => runSessionScale(options));

  const peer = <T>(pick: (result: EtcdResult) => T): T | string => {
    if (etcd.ok) return pick(etcd.value);
    return 'skipped' in etcd ? 'not run' : `etcd failed: ${(etcd.error as Error).message.split('\n')[0]}`;
  };
  const rows: Row[] = [
    ...rowsOf(registration, 'registration', (byStore) => [...byStore].flatMap(([store, result]) => registrationRows(options, store, result, peer((e) => e.registration)))),
    ...rowsOf(callback, 'propagation by callback', (results) => callbackRows(results, peer((e) => e.propagation))),
    ...rowsOf(watch, 'propagation by watch stream', (results) => watchRows(results, peer((e) => e.propagation))),
    ...rowsOf(failure, 'failure detection', (results) => failureRows(options, results)),
    ...rowsOf(scale, 'scale', scaleRows),
    ...rowsOf(lookups, 'lookups', (result) => lookupRows(options, result, peer((e) => e.lookups))),
    ...rowsOf(fairness, 'fairness', fairnessRows),
    ...rowsOf(stuckWatchers, 'memory under stuck watchers', stuckWatchersRows),
    ...rowsOf(largeCatalog, 'large catalog', largeCatalogRows),
    ...rowsOf(outboxFlood, 'outbox flood', outboxFloodRows),
    ...rowsOf(sessionDetection, 'session detection', sessionDetectionRows),
    ...rowsOf(sessionScale, 'session scale', (result) => sessionScaleRows(result, scale.ok ? scale.value : null)),
  ];

  const series: ChartSeries[] = [
    { name: 'Roster, callback', color: '#1f77b4', points: callback.ok ? mapValues(callback.value, (r) => r.roster) : new Map() },
    { name: 'floor: bare undici fan-out', color: '#9ecae1', points: callback.ok ? mapValues(callback.value, (r) => r.floor) : new Map() },
    { name: 'etcd, watch', color: '#ff7f0e', points: etcd.ok ? etcd.value.propagation : new Map() },
    { name: 'Roster, watch stream', color: '#2ca02c', points: watch.ok ? rostersOf(watch.value) : new Map() },
    { name: 'floor: bare event streams', color: '#a1d99b', points: watch.ok ? floorsOf(watch.value) : new Map() },
  ];

  const title = `Propagation latency from a register call to each subscriber (${machine.cores} cores, Node ${machine.node})`;
  const chart = propagationChart(title, series, [
    { label: `callback target ${CALLBACK_P99_TARGET_MS} ms`, valueMs: CALLBACK_P99_TARGET_MS, color: '#1f77b4' },
    { label: `watch target ${watchP99TargetMs(Infinity)} ms (${watchP99TargetMs(0)} ms to 200)`, valueMs: watchP99TargetMs(Infinity), color: '#2ca02c' },
  ]);

  const table = markdownTable(rows);
  mkdirSync(options.outDir, { recursive: true });
  writeFileSync(join(options.outDir, CHART_FILE), chart);
  const durationS = (Date.now() - startedAt.getTime()) / 1000;
  const findingsFile = new URL('./FINDINGS.md', import.meta.url).pathname;
  writeFileSync(join(options.outDir, 'RESULTS.md'), resultsMarkdown({ command: options.command, profile: options.profile, machine, startedAt, durationS, rows, chartFile: CHART_FILE, findingsFile, notes: NOTES }));
  console.log(table);
  progress(`wrote ${join(options.outDir, 'RESULTS.md')} and ${join(options.outDir, CHART_FILE)}`);
  const failed = [registration, callback, watch, lookups, failure, scale, etcd, fairness, stuckWatchers, largeCatalog, outboxFlood, sessionDetection, sessionScale].some((o) => !o.ok && !('skipped' in o));
  return failed ? 1 : 0;
}

function mapValues<K, V, W>(map: ReadonlyMap<K, V>, pick: (value: V) => W): Map<K, W> {
  return new Map([...map].map(([key, value]) => [key, pick(value)]));
}

function rostersOf(results: ReadonlyMap<number, WatchResult>): Map<number, Summary> {
  return new Map([...results].flatMap(([n, r]): Array<[number, Summary]> => (r === WATCH_UNAVAILABLE ? [] : [[n, r.roster]])));
}

function floorsOf(results: ReadonlyMap<number, WatchResult>): Map<number, Summary> {
  return new Map([...results].flatMap(([n, r]): Array<[number, Summary]> => (r === WATCH_UNAVAILABLE ? [] : [[n, r.floor]])));
}

// Ctrl-C: exit, and let the exit hook of lib/scope.ts kill the children and remove temp dirs.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(error.stack ?? error.message);
    process.exit(1);
  },
);
