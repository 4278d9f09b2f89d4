// GET /v1/watch against a real registry on a real socket, read by a small SSE reader.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { get, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { Registration } from '../../src/registry/catalog.js';
import { buildRegistryServer, type RegistryServerOptions } from '../../src/registry/http/server.js';
import type { RegistryApi } from '../../src/registry/registry-api.js';
import { Registry } from '../../src/registry/registry.js';
import { startRegistry, type RunningRegistry, type StartRegistryOptions } from '../../src/registry/start-registry.js';
import { FakeClock } from '../helpers/fake-clock.js';

/** Tests wait for events; one that never comes fails the test instead of hanging the run. */
const BOUNDED = { timeout: 20_000 };

interface SseEvent {
  event: string;
  id: string;
  data: { revision: number; type?: string; instance?: { service: string; url: string; revision: number }; instances?: Array<{ service: string }> };
}

/** Reads a text/event-stream response; written apart from the client's reader on purpose. */
class SseReader {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  readonly response: IncomingMessage;
  readonly ended: Promise<void>;
  #text = '';
  #waiters: Array<() => void> = [];

  private constructor(response: IncomingMessage) {
    this.response = response;
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => this.#take(chunk));
    this.ended = new Promise((resolve) => response.once('close', resolve)).then(() => this.#wake());
  }

  static open(t: TestContext, url: string, headers: Record<string, string> = {}): Promise<SseReader> {
    return new Promise((resolve, reject) => {
      const request = get(url, { headers }, (response) => resolve(new SseReader(response)));
      request.on('error', reject);
      t.after(() => request.destroy());
    });
  }

  get headers(): IncomingHttpHeaders {
    return this.response.headers;
  }

  async waitFor(predicate: () => boolean): Promise<void> {
    while (!predicate()) {
      if (this.response.closed) throw new Error(`stream ended; events: ${JSON.stringify(this.events)}`);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  waitForEvents(count: number): Promise<void> {
    return this.waitFor(() => this.events.length >= count);
  }

  #take(chunk: string): void {
    this.#text += chunk;
    const blocks = this.#text.split('\n\n');
    this.#text = blocks.pop() ?? '';
    for (const block of blocks) this.#parse(block);
    this.#wake();
  }

  #parse(block: string): void {
    if (block.startsWith(':')) return void this.comments.push(block);
    const field = (name: string) => block.split('\n').find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2) ?? '';
    this.events.push({ event: field('event'), id: field('id'), data: JSON.parse(field('data')) });
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }
}

function reg(service: string, port: number): Registration {
  // TTL mode with a long TTL: nothing is probed, so health only changes when a test says so.
  return { service, url: `http://127.0.0.1:${port}`, requires: [], updateUrl: null, heartbeatUrl: null, ttlMs: 600_000, metadata: {}, protocol: 'v1', owner: null };
}

/** A registry as users start one, on loopback, authentication off unless `options.auth` says otherwise. */
async function startWatchedRegistry(t: TestContext, options: StartRegistryOptions = {}): Promise<RunningRegistry> {
  const running = await startRegistry({ host: '127.0.0.1', port: 0, auth: { insecure: true }, ...options });
  t.after(() => running.close());
  return running;
}

async function registerAll(registry: RegistryApi, ...registrations: Registration[]): Promise<void> {
  for (const registration of registrations) await registry.register(registration);
}

const changeSummary = (events: SseEvent[]) => events.map((e) => `${e.event} ${e.id} ${e.data.type ?? ''} ${e.data.instance?.service ?? ''}`.trim());

/** Yields to the event loop until `condition` holds: for server-side effects that send no event. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(condition(), 'condition never held');
}

test('without since: a snapshot of the catalog first, then live changes', BOUNDED, async (t) => {
  const { url, registry } = await startWatchedRegistry(t);
  await registerAll(registry, reg('LogService', 4000), reg('GradingService', 6000));

  const reader = await SseReader.open(t, `${url}/v1/watch`);
  assert.equal(reader.response.statusCode, 200);
  assert.match(String(reader.headers['content-type']), /^text\/event-stream/);
  assert.equal(reader.headers['cache-control'], 'no-cache');
  await reader.waitForEvents(1);
  assert.equal(reader.events[0]?.event, 'snapshot');
  assert.equal(reader.events[0]?.id, '2');
  assert.equal(reader.events[0]?.data.revision, 2);
  assert.deepEqual(reader.events[0]?.data.instances?.map((i) => i.service).sort(), ['GradingService', 'LogService']);

  registry.deregisterByUrl('http://127.0.0.1:4000');
  await reader.waitForEvents(2);
  assert.deepEqual(reader.events[1], {
    event: 'change',
    id: '3',
    data: { revision: 3, type: 'deregistered', instance: { ...reader.events[1]!.data.instance!, service: 'LogService', url: 'http://127.0.0.1:4000', revision: 3 } },
  });
});

test('since=R: the missed changes in order, then live ones, and no snapshot', BOUNDED, async (t) => {
  const { url, registry } = await startWatchedRegistry(t);
  await registerAll(registry, reg('A', 1), reg('B', 2), reg('C', 3));
  registry.deregisterByUrl('http://127.0.0.1:1');

  const reader = await SseReader.open(t, `${url}/v1/watch?since=1`);
  await reader.waitForEvents(3);
  await registry.register(reg('D', 4));
  await reader.waitForEvents(4);

  assert.deepEqual(changeSummary(reader.events), ['change 2 registered B', 'change 3 registered C', 'change 4 deregistered A', 'change 5 registered D']);
});

test('a since too old for the change log: a snapshot instead, then live changes', BOUNDED, async (t) => {
  const { url, registry } = await startWatchedRegistry(t, { changeLog: { capacity: 2 } });
  await registerAll(registry, reg('A', 1), reg('B', 2), reg('C', 3), reg('D', 4));

  const reader = await SseReader.open(t, `${url}/v1/watch?since=1`);
  await reader.waitForEvents(1);
  await registry.register(reg('E', 5));
  await reader.waitForEvents(2);

  assert.deepEqual(changeSummary(reader.events), ['snapshot 4', 'change 5 registered E']);
  assert.equal(reader.events[0]?.data.instances?.length, 4);
});

test('services=A,B: only instances and changes of those services', BOUNDED, async (t) => {
  const { url, registry } = await startWatchedRegistry(t);
  await registerAll(registry, reg('A', 1), reg('B', 2), reg('C', 3));

  const reader = await SseReader.open(t, `${url}/v1/watch?services=A,C`);
  await reader.waitForEvents(1);
  await registerAll(registry, reg('B', 12), reg('C', 13));
  await reader.waitForEvents(2);

  assert.deepEqual(reader.events[0]?.data.instances?.map((i) => i.service).sort(), ['A', 'C']);
  assert.deepEqual(changeSummary(reader.events.slice(1)), ['change 5 registered C']);
});

test('Last-Event-ID (what EventSource sends on reconnect) wins over the since in the URL', BOUNDED, async (t) => {
  const { url, registry } = await startWatchedRegistry(t);
  await registerAll(registry, reg('A', 1), reg('B', 2), reg('C', 3));

  const reader = await SseReader.open(t, `${url}/v1/watch?since=0`, { 'last-event-id': '2' });
  await reader.waitForEvents(1);

  assert.deepEqual(changeSummary(reader.events), ['change 3 registered C']);
});

test('bad input is answered 400 with { code, message } before any stream starts', BOUNDED, async (t) => {
  const { url } = await startWatchedRegistry(t);
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['since=abc', {}, /"since"/],
    ['since=-1', {}, /"since"/],
    ['services=9lives', {}, /"services/],
    ['services=A,,B', {}, /"services/],
    ['', { 'last-event-id': 'x' }, /"last-event-id"/],
  ];
  // The bodies, read in full:
  for (const [query, headers, message] of cases) {
    const answer = await fetch(`${url}/v1/watch?${query}`, { headers });
    const body = (await answer.json()) as { code: string; message: string };
    assert.equal(body.code, 'INVALID_REQUEST', query);
    assert.match(body.message, message, query);
  }
});

test('a keep-alive comment every keepAliveMs, on the injected clock', BOUNDED, async (t) => {
  const clock = new FakeClock();
  const { url } = await startWatchedRegistry(t, { watch: { keepAliveMs: 15_000 }, clock });
  const reader = await SseReader.open(t, `${url}/v1/watch`);
  await reader.waitForEvents(1);

  await clock.tick(14_999);
  assert.equal(reader.comments.length, 0);
  await clock.tick(1);
  await reader.waitFor(() => reader.comments.length === 1);
  await clock.tick(15_000);
  await reader.waitFor(() => reader.comments.length === 2);
  assert.deepEqual(reader.comments, [': keep-alive', ': keep-alive']);
});

test('a client that disconnects is cleaned up: stream count, subscription and timer', BOUNDED, async (t) => {
  const clock = new FakeClock();
  const { url, registry, app } = await startWatchedRegistry(t, { clock });
  const first = await SseReader.open(t, `${url}/v1/watch`);
  const second = await SseReader.open(t, `${url}/v1/watch`);
  await Promise.all([first.waitForEvents(1), second.waitForEvents(1)]);
  assert.equal(app.openWatchStreams, 2);
  assert.equal(clock.pending, 2);

  first.response.destroy();
  await until(() => app.openWatchStreams === 1);
  assert.equal(clock.pending, 1);
  // The survivor still gets changes; the departed one's listener is gone (no write to a dead socket).
  await registry.register(reg('A', 1));
  await second.waitForEvents(2);
  // The registry runs on the same clock: the new instance's TTL is one more timer.
  const withInstance = clock.pending;

  second.response.destroy();
  await until(() => app.openWatchStreams === 0);
  assert.equal(clock.pending, withInstance - 1);
});

test('closing the server ends open streams instead of waiting for them', BOUNDED, async (t) => {
  const { url, app } = await startWatchedRegistry(t);
  const reader = await SseReader.open(t, `${url}/v1/watch`);
  await reader.waitForEvents(1);

  await app.close();
  await reader.ended;
  assert.equal(app.openWatchStreams, 0);
});

test('a consumer that stops reading is cut off once too many bytes wait for it; one that reads is not', BOUNDED, async (t) => {
  const { url, registry, app } = await startWatchedRegistry(t, { limits: { watchBacklogBytes: 300_000 } });
  const stalled = await SseReader.open(t, `${url}/v1/watch`);
  const reading = await SseReader.open(t, `${url}/v1/watch`);
  await Promise.all([stalled.waitForEvents(1), reading.waitForEvents(1)]);
  stalled.response.pause();

  // Changes until the stalled stream is cut, letting the sockets flush between them: the
  // socket buffers of both ends fill first, then 300 kB wait in the registry's memory.
  const big = { ...reg('Busy', 1), metadata: { note: 'x'.repeat(3000) } };
  let changes = 0;
  for (; changes < 10_000 && app.openWatchStreams === 2; changes += 2) {
    await registry.register(big);
    registry.deregisterByUrl(big.url);
    await new Promise((resolve) => setImmediate(resolve));
  }

  assert.equal(app.openWatchStreams, 1);
  await reading.waitForEvents(1 + changes);
  assert.equal(reading.response.closed, false);
});

test('guarded as the registry guards it: no token 401, a token (or the dashboard cookie) streams', BOUNDED, async (t) => {
  const { url, registry, adminToken } = await startWatchedRegistry(t, { auth: { adminToken: 'watch-test-admin-token' } });
  await registerAll(registry, reg('LogService', 4000));
  const refused = await SseReader.open(t, `${url}/v1/watch`);
  assert.equal(refused.response.statusCode, 401);
  refused.response.resume();
  const credentials: Array<Record<string, string>> = [{ authorization: `Bearer ${adminToken}` }, { cookie: `roster_session=${adminToken}` }];
  for (const headers of credentials) {
    const reader = await SseReader.open(t, `${url}/v1/watch`, headers);
    assert.equal(reader.response.statusCode, 200);
    await reader.waitForEvents(1);
    assert.equal(reader.events[0]?.event, 'snapshot');
  }
});

test('buildRegistryServer refuses bad watch and change-log settings, naming the option', async (t) => {
  const registry = new Registry({ channel: { send: async () => undefined, close: async () => undefined }, probe: async () => undefined });
  t.after(() => registry.close(0));
  const cases: Array<[RegistryServerOptions, RegExp]> = [
    [{ watch: { keepAliveMs: 0 } }, /"watch\.keepAliveMs"/],
    [{ changeLog: { capacity: 0 } }, /"changeLog\.capacity"/],
  ];
  for (const [options, message] of cases) {
    assert.throws(() => buildRegistryServer(registry, { auth: { insecure: true }, ...options }), { code: 'INVALID_OPTION', message });
  }
});
