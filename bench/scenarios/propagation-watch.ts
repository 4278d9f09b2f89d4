// Scenario 2b: the same change reaching N watchers of the watch stream (GET /v1/watch, SSE),
// one connection each. Then the floor: a bare node:http server in another process writing one
// event to the same number of event streams when told to.
import { Arrivals } from '../lib/arrivals.js';
import { deregister, inBatches, openPool, register } from '../lib/http.js';
import { progress } from '../lib/log.js';
import type { BenchOptions } from '../lib/options.js';
import { authHeaders, freePort, spawnChild, startRegistry, waitForHttp } from '../lib/processes.js';
import { measureRounds, peerLatency } from '../lib/propagation.js';
import { withScope, type Scope } from '../lib/scope.js';
import { openEventStream, WatchUnavailableError, type SseEvent } from '../lib/sse.js';
import { formatLatency, type Summary } from '../lib/stats.js';
import { NONE, ratio, type Row } from '../lib/table.js';

/** The registry answered 404 to /v1/watch. */
export const WATCH_UNAVAILABLE = 'unavailable';

export type WatchResult = { roster: Summary; floor: Summary } | typeof WATCH_UNAVAILABLE;

interface ChangeEvent {
  type: string;
  instance: { url: string };
}

/** Records "+url" for an instance that appeared, "-url" for one that went. */
function recordChanges(arrivals: Arrivals): (event: SseEvent) => void {
  return ({ event, data, at }) => {
    if (event !== 'change') return;
    const change = JSON.parse(data) as ChangeEvent;
    const sign = change.type === 'registered' || change.type === 'passing' ? '+' : '-';
    arrivals.record(`${sign}${change.instance.url}`, at);
  };
}

function openStreams(scope: Scope, url: string, count: number, onEvent: (event: SseEvent) => void, headers: Record<string, string> = {}): Promise<void> {
  return inBatches(Array.from({ length: count }), 32, () => openEventStream(scope, url, onEvent, headers));
}

export async function runWatchPropagation(options: BenchOptions, watchers: number): Promise<WatchResult> {
  const { rounds, warmupRounds, roundTimeoutMs } = options.sizes.propagation;
  return withScope(async (scope) => {
    const registry = await startRegistry(scope, { store: 'memory', cpuProfileDir: options.cpuProfileDir });
    const arrivals = new Arrivals();
    const watchUrl = `${registry.url}/v1/watch?services=Provider`;
    try {
      await openEventStream(scope, watchUrl, recordChanges(arrivals), authHeaders(registry));
    } catch (error) {
      if (!(error instanceof WatchUnavailableError)) throw error;
      progress('propagation by watch stream: /v1/watch answered 404, skipped');
      return WATCH_UNAVAILABLE;
    }
    await openStreams(scope, watchUrl, watchers - 1, recordChanges(arrivals), authHeaders(registry));
    const provider = openPool(scope, registry, 1);
    const roster = await measureRounds({
      arrivals,
      subscribers: watchers,
      rounds,
      warmupRounds,
      roundTimeoutMs,
      keyOf: (round) => `http://127.0.0.1:9/provider/${round}`,
      appear: async (url) => void (await register(provider, { service: 'Provider', url, ttlMs: 3_600_000 })),
      disappear: async (url) => void (await deregister(provider, url)),
    });
    progress(`propagation by watch stream to ${watchers}: ${formatLatency(roster)}`);
    await registry.stop();
    const floor = await eventStreamFloor(scope, options, watchers);
    progress(`bare node:http event streams to ${watchers}: ${formatLatency(floor)}`);
    return { roster, floor };
  });
}

// Holds every GET open as an event stream; on a message from its parent, writes one change
// event (the same shape as Roster's) to all of them in one synchronous loop.
const EVENT_STREAM_SOURCE = `
const streams = new Set();
require('node:http').createServer((req, res) => {
  if (req.url === '/health') return res.end('ok');
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  res.write('event: snapshot\\ndata: {}\\n\\n');
  streams.add(res);
  req.on('close', () => streams.delete(res));
}).listen(Number(process.env.BENCH_PORT), '127.0.0.1');
process.on('message', (change) => {
  const frame = 'event: change\\ndata: ' + JSON.stringify(change) + '\\n\\n';
  for (const res of streams) res.write(frame);
});
process.on('disconnect', () => process.exit(0));
`;

async function eventStreamFloor(scope: Scope, options: BenchOptions, watchers: number): Promise<Summary> {
  const { rounds, warmupRounds, roundTimeoutMs } = options.sizes.propagation;
  const port = await freePort();
  const server = spawnChild(scope, process.execPath, ['-e', EVENT_STREAM_SOURCE], { BENCH_PORT: String(port) }, { ipc: true });
  await waitForHttp(`http://127.0.0.1:${port}/health`, server);
  const arrivals = new Arrivals();
  await openStreams(scope, `http://127.0.0.1:${port}/watch`, watchers, recordChanges(arrivals));
  const send = (type: string, url: string): Promise<void> =>
    new Promise((resolve, reject) => server.child.send({ type, instance: { url } }, (error) => (error ? reject(error) : resolve())));
  return measureRounds({
    arrivals,
    subscribers: watchers,
    rounds,
    warmupRounds,
    roundTimeoutMs,
    keyOf: (round) => `http://127.0.0.1:9/bare/${round}`,
    appear: (url) => send('registered', url),
    disappear: (url) => send('deregistered', url),
  });
}

/** ≤ 8 ms up to 200 watchers, ≤ 15 ms beyond (issue 6). */
export function watchP99TargetMs(watchers: number): number {
  return watchers <= 200 ? 8 : 15;
}

export function watchRows(results: ReadonlyMap<number, WatchResult>, peer: ReadonlyMap<number, Summary> | string): Row[] {
  return [...results].flatMap(([watchers, result]): Row[] => {
    const etcd = peerLatency(peer, watchers);
    const target = watchP99TargetMs(watchers);
    const at = watchers.toLocaleString('en-US');
    const row = {
      scenario: 'propagation by watch stream',
      figure: `register → event on GET /v1/watch at ${at} watchers (one connection each)`,
      target: `p99 ≤ ${target} ms`,
      etcd: etcd.cell,
    };
    if (result === WATCH_UNAVAILABLE) return [{ ...row, result: 'n/a (watch stream not available)', ratio: NONE, met: null }];
    const { roster, floor } = result;
    return [
      { ...row, result: formatLatency(roster), ratio: ratio(roster.p99, etcd.p99), met: roster.p99 <= target },
      {
        scenario: row.scenario,
        figure: `floor: one event written to ${at} event streams by a bare node:http server in another process (no registry)`,
        target: NONE,
        result: formatLatency(floor),
        etcd: NONE,
        ratio: NONE,
        met: null,
      },
    ];
  });
}
