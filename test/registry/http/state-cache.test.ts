// GET /v1/state and the watch snapshot: built once per revision, serialized in slices that
// yield to the event loop, sent chunk by chunk, and byte for byte what they were when both were
// one JSON.stringify of the whole catalog.
import assert from 'node:assert/strict';
import { get } from 'node:http';
import type { Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { Catalog, toView, type InstanceRecord, type Registration } from '../../../src/registry/catalog.js';
import Fastify from 'fastify';
import { STATE_SLICE_CHARS, StateCache, ViewCache, captureRecords, serializeState, type StateSource } from '../../../src/registry/http/state-cache.js';
import { v1Routes } from '../../../src/registry/http/v1-routes.js';
import type { RegistryApi } from '../../../src/registry/registry-api.js';
import { startRegistry, type RunningRegistry } from '../../../src/registry/start-registry.js';
import { systemClock } from '../../../src/shared/clock.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const BOUNDED = { timeout: 60_000 };

/** Quotes, backslashes, slashes, accents, CJK, an emoji and the line separators JSON leaves raw. */
const ODD = 'quote " backslash \\ slash / </script> é 漢字 😀 \u2028 \u2029 ∑';

function reg(service: string, port: number, metadata: Record<string, string> = {}): Registration {
  // TTL mode with a long TTL: nothing is probed, so nothing changes unless a test says so.
  return { service, url: `http://127.0.0.1:${port}`, requires: [], updateUrl: null, heartbeatUrl: null, ttlMs: 600_000, metadata, protocol: 'v1', owner: null };
}

/** A registry as users start one, on loopback, authentication off. */
async function startOpenRegistry(t: TestContext): Promise<RunningRegistry> {
  const running = await startRegistry({ host: '127.0.0.1', port: 0, auth: { insecure: true } });
  t.after(() => running.close());
  return running;
}

async function registerAll(registry: RegistryApi, registrations: Registration[]): Promise<void> {
  for (const registration of registrations) await registry.register(registration);
}

/** Several services, one of them with odd characters in its metadata and requirements. */
function severalServices(): Registration[] {
  return [
    reg('LogService', 4000, { note: ODD }),
    { ...reg('GradingService', 6000, { 'key "with" quotes': ODD, empty: '' }), requires: ['LogService'] },
    reg('GradingService', 6001),
    { ...reg('Portal', 5000, { zone: 'eu-west' }), requires: ['GradingService', 'LogService'] },
  ];
}

/** Many instances with some metadata each: a state of several slices. */
function manyInstances(count: number): Registration[] {
  return Array.from({ length: count }, (_, i) => reg(`Service${i % 7}`, 10_000 + i, { note: `${ODD} ${'x'.repeat(400)}`, index: String(i) }));
}

/** The serialization both answers had when each was one JSON.stringify of the whole catalog. */
function previousState(registry: StateSource, wants: (record: InstanceRecord) => boolean = () => true): string {
  return JSON.stringify({ revision: registry.revision, instances: registry.instances().filter(wants).map(toView) });
}

function previousSnapshot(registry: StateSource, wants?: (record: InstanceRecord) => boolean): string {
  return `event: snapshot\nid: ${registry.revision}\ndata: ${previousState(registry, wants)}\n\n`;
}

/** Compares two long texts, showing where they part instead of printing both whole. */
function assertSameText(actual: string, expected: string): void {
  if (actual === expected) return;
  let at = 0;
  while (at < actual.length && actual[at] === expected[at]) at++;
  assert.fail(`the texts differ at character ${at} (of ${actual.length} and ${expected.length}): ${JSON.stringify(actual.slice(at, at + 120))} instead of ${JSON.stringify(expected.slice(at, at + 120))}`);
}

async function fetchState(url: string): Promise<{ body: Buffer; contentLength: string | null; contentType: string | null }> {
  const answer = await fetch(`${url}/v1/state`);
  assert.equal(answer.status, 200);
  return { body: Buffer.from(await answer.arrayBuffer()), contentLength: answer.headers.get('content-length'), contentType: answer.headers.get('content-type') };
}

/** The raw bytes of a watch stream until `done` says it has enough; the stream is then dropped. */
function readWatch(t: TestContext, url: string, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = get(url, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
        if (!done(text)) return;
        response.destroy();
        resolve(text);
      });
      response.on('close', () => reject(new Error(`stream closed after ${text.length} characters`)));
    });
    request.on('error', reject);
    t.after(() => request.destroy());
  });
}

/** The first `count` events of a stream's text, each with its trailing blank line. */
function events(text: string, count: number): string[] {
  return text.split('\n\n').slice(0, count).map((block) => `${block}\n\n`);
}

test('GET /v1/state: the same bytes as before for several services, odd characters included', BOUNDED, async (t) => {
  const { url, registry } = await startOpenRegistry(t);
  await registerAll(registry, severalServices());

  const { body, contentLength, contentType } = await fetchState(url);

  assertSameText(body.toString('utf8'), previousState(registry));
  assert.equal(contentLength, String(body.length));
  assert.equal(contentType, 'application/json; charset=utf-8');
});

test('GET /v1/state of an empty catalog is what it was', BOUNDED, async (t) => {
  const { url, registry } = await startOpenRegistry(t);
  assertSameText((await fetchState(url)).body.toString('utf8'), previousState(registry));
});

test('the watch snapshot: the same bytes as before, for the whole catalog and for some services', BOUNDED, async (t) => {
  const { url, registry } = await startOpenRegistry(t);
  await registerAll(registry, severalServices());

  const whole = await readWatch(t, `${url}/v1/watch`, (text) => text.includes('\n\n'));
  assertSameText(events(whole, 1)[0] ?? '', previousSnapshot(registry));

  const some = await readWatch(t, `${url}/v1/watch?services=LogService,Portal`, (text) => text.includes('\n\n'));
  assertSameText(events(some, 1)[0] ?? '', previousSnapshot(registry, (record) => ['LogService', 'Portal'].includes(record.service)));
});

test('a change makes a new revision, and the state answers it with new bytes', BOUNDED, async (t) => {
  const { url, registry } = await startOpenRegistry(t);
  await registerAll(registry, severalServices());
  const before = (await fetchState(url)).body.toString('utf8');
  assertSameText((await fetchState(url)).body.toString('utf8'), before);

  await registry.register(reg('NewService', 7000, { note: ODD }));
  const after = (await fetchState(url)).body.toString('utf8');
  assert.notEqual(after, before);
  assertSameText(after, previousState(registry));

  registry.deregisterByUrl('http://127.0.0.1:4000');
  assertSameText((await fetchState(url)).body.toString('utf8'), previousState(registry));
  const snapshot = await readWatch(t, `${url}/v1/watch`, (text) => text.includes('\n\n'));
  assertSameText(events(snapshot, 1)[0] ?? '', previousSnapshot(registry));
});

test('one serialization per revision; a new one after a change, or once probe results may have aged', async () => {
  const clock = new FakeClock();
  const records: InstanceRecord[] = [];
  const source = { revision: 1, instances: () => [...records] };
  const cache = new StateCache(source, clock);

  const first = cache.get();
  assert.equal(cache.get(), first, 'the same revision shares one serialization');
  source.revision = 2;
  const second = cache.get();
  assert.notEqual(second, first);
  assert.equal((await second).revision, 2);

  await clock.tick(StateCache.MAX_AGE_MS);
  assert.equal(cache.get(), second);
  await clock.tick(1);
  assert.notEqual(cache.get(), second, 'probe times change without a revision: rebuilt after a second');
});

test('a large state is serialized in several slices, yielding to the event loop between them', BOUNDED, async (t) => {
  const { registry } = await startOpenRegistry(t);
  await registerAll(registry, manyInstances(2000));
  const expected = previousState(registry);
  assert.ok(expected.length > 4 * STATE_SLICE_CHARS, 'the catalog is several slices long');

  let finished = false;
  let turnedBeforeTheEnd = false;
  const building = serializeState(registry.revision, captureRecords(registry.instances())).then((state) => {
    finished = true;
    return state;
  });
  setImmediate(() => (turnedBeforeTheEnd = !finished));
  const state = await building;

  assert.ok(turnedBeforeTheEnd, 'another callback ran while the state was being serialized');
  assert.ok([...state.chunks()].length > 4, `${[...state.chunks()].length} chunks`);
  assertSameText(Buffer.concat([...state.chunks()]).toString('utf8'), expected);
  assert.equal(state.bytes, Buffer.byteLength(expected));
});

test('a state keeps its revision although the catalog changes records in place while it is serialized', BOUNDED, async (t) => {
  const { registry } = await startOpenRegistry(t);
  await registerAll(registry, manyInstances(600));
  const expected = previousState(registry);
  const cache = new StateCache(registry, systemClock);

  const building = cache.get();
  // A removal bumps the removed record's revision in place; the state must not show it.
  registry.deregisterByUrl('http://127.0.0.1:10000');
  registry.deregisterByUrl('http://127.0.0.1:10599');
  const state = await building;

  assertSameText(Buffer.concat([...state.chunks()]).toString('utf8'), expected);
});

test('health and probe results changed in place while a state is serialized stay out of it', async () => {
  const catalog = new Catalog();
  const registeredAt = Date.parse('2026-01-01T00:00:00Z');
  for (const registration of manyInstances(600)) catalog.upsert(registration, registeredAt);
  const source = { get revision() { return catalog.revision; }, instances: () => catalog.list() };
  const [middle, last] = [catalog.list()[300]!, catalog.list()[599]!];
  catalog.recordCheck(middle.id, registeredAt + 1000, 3, null);
  const expected = previousState(source);

  const building = new StateCache(source, systemClock).get();
  catalog.setHealth(middle.id, 'critical', registeredAt + 5000, 'connection refused');
  catalog.recordCheck(last.id, registeredAt + 6000, 12.5, 'timeout');
  const state = await building;

  assertSameText(Buffer.concat([...state.chunks()]).toString('utf8'), expected);
});

test('a large catalog over HTTP: the state and the snapshot arrive whole; changes made meanwhile follow the snapshot', BOUNDED, async (t) => {
  const { url, registry } = await startOpenRegistry(t);
  await registerAll(registry, manyInstances(2000));
  const late = [20_001, 20_002, 20_003].map((port) => reg('Late', port));

  const [state, watched] = await Promise.all([
    fetchState(url),
    // The last late instance shows either in the snapshot or in a change after it.
    readWatch(t, `${url}/v1/watch`, (text) => text.includes(`"url":"${late[2]!.url}"`) && text.endsWith('\n\n')),
    (async () => {
      for (const registration of late) {
        await new Promise((resolve) => setImmediate(resolve));
        await registry.register(registration);
      }
    })(),
  ]);

  // Only additions happened: the state at revision r is every record of revision ≤ r, as it is now.
  const stateRevision = (JSON.parse(state.body.toString('utf8')) as { revision: number }).revision;
  assertSameText(state.body.toString('utf8'), previousStateAt(registry, stateRevision));
  const [snapshot = '', ...changes] = watched.split('\n\n').filter(Boolean).map((block) => `${block}\n\n`);
  const snapshotRevision = Number(/^event: snapshot\nid: (\d+)\n/.exec(snapshot)?.[1]);
  assertSameText(snapshot, `event: snapshot\nid: ${snapshotRevision}\ndata: ${previousStateAt(registry, snapshotRevision)}\n\n`);
  const ids = changes.map((event) => Number(/\nid: (\d+)\n/.exec(event)?.[1]));
  const following = Array.from({ length: registry.revision - snapshotRevision }, (_, i) => snapshotRevision + 1 + i);
  assert.deepEqual(ids, following, 'every change after the snapshot, once, in order');
});

function previousStateAt(registry: StateSource, revision: number): string {
  return JSON.stringify({ revision, instances: registry.instances().filter((record) => record.revision <= revision).map(toView) });
}

/** A catalog of `count` instances registered at one moment, and a state source over it. */
function catalogOf(count: number, metadata: (i: number) => Record<string, string> = () => ({ note: ODD })): { catalog: Catalog; source: StateSource; at: number } {
  const catalog = new Catalog();
  const at = Date.parse('2026-01-01T00:00:00Z');
  for (let i = 0; i < count; i++) catalog.upsert(reg(`Service${i % 3}`, 10_000 + i, metadata(i)), at);
  const source = { get revision() { return catalog.revision; }, instances: () => catalog.list() };
  return { catalog, source, at };
}

async function stateText(cache: StateCache): Promise<string> {
  return Buffer.concat([...(await cache.get()).chunks()]).toString('utf8');
}

test('a new state serializes only the records the catalog changed; the others reuse their text', async () => {
  const { catalog, source, at } = catalogOf(50);
  const serialized: string[] = [];
  const views = new ViewCache((record) => {
    serialized.push(record.url);
    return JSON.stringify(toView(record));
  });
  const clock = new FakeClock();
  const cache = new StateCache(source, clock, views);
  const recordAt = (i: number): InstanceRecord => catalog.list()[i] as InstanceRecord;
  const [unhealthy, probed, replaced, removed] = [recordAt(3), recordAt(17), recordAt(30), recordAt(42)];
  const changes: Array<[string, () => void, string[]]> = [
    ['health', () => catalog.setHealth(unhealthy.id, 'critical', at + 1, 'connection refused'), [unhealthy.url]],
    ['probe result, once the state has aged', () => catalog.recordCheck(probed.id, at + 2, 4.5, null), [probed.url]],
    ['registration again', () => catalog.upsert(reg('Service0', 10_030, { note: 'again' }), at + 3), [replaced.url]],
    ['removal', () => catalog.remove(removed.id), []],
  ];

  assertSameText(await stateText(cache), previousState(source));
  assert.equal(serialized.length, 50, 'the first state serializes every record');
  for (const [what, change, expected] of changes) {
    serialized.length = 0;
    change();
    await clock.tick(StateCache.MAX_AGE_MS + 1);
    assertSameText(await stateText(cache), previousState(source));
    assert.deepEqual(serialized, expected, `after a change of ${what}`);
  }
});

test('GET /v1/state: a reader that takes nothing for the patience period is cut; its state is let go', BOUNDED, async (t) => {
  // Far more than the loopback socket's buffers hold: the server has to wait for the reader.
  const { source } = catalogOf(400, (i) => ({ index: String(i), padding: 'x'.repeat(64 * 1024) }));
  const clock = new FakeClock();
  const patienceMs = 5000;
  const app = Fastify();
  await app.register(v1Routes(source as unknown as RegistryApi, '0.0.0', clock, patienceMs), { prefix: '/v1' });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => app.close());

  // The reader pauses, so it would not hear its socket close: the server's end of it tells.
  const closed = new Promise<void>((resolve) => app.server.once('connection', (socket: Socket) => socket.once('close', () => resolve())));
  const contentLength = new Promise<number>((resolve, reject) => {
    const request = get(`${url}/v1/state`, (response) => {
      response.pause();
      resolve(Number(response.headers['content-length']));
    });
    request.on('error', reject);
    t.after(() => request.destroy());
  });
  let cut = false;
  void closed.then(() => (cut = true));
  // Time moves a patience period at a go; the cut comes once the server waits on the reader.
  for (let round = 0; !cut && round < 10_000; round++) {
    await clock.tick(patienceMs);
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.ok(cut, 'the reader was cut');
  assert.ok((await contentLength) > 20 * 1024 * 1024, 'the state is larger than the socket buffers');
  assert.equal(clock.pending, 0, 'no timer is left for the cut reader');
});
