// Watch streams: open streams in total and per credential are refused with a 429 before the
// stream starts; a reader that stops reading is cut once its backlog passes watchBacklogBytes,
// and resumes from its last revision when it reconnects. Each refusal or cut is counted.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { get, type IncomingMessage } from 'node:http';
import type { Registration } from '../../../src/registry/catalog.js';
import { rejectionsOf, SECRETS, startLimitsRegistry } from './limits-registry.js';

interface SseEvent {
  event: string;
  id: number;
}

/** A raw GET /v1/watch: its answer, the events parsed so far, and the body when it is no stream. */
interface Stream {
  response: IncomingMessage;
  events: SseEvent[];
  body: string;
  closed: Promise<void>;
}

function openStream(t: TestContext, url: string, token: string, headers: Record<string, string> = {}): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const request = get(`${url}/v1/watch`, { headers: { authorization: `Bearer ${token}`, ...headers } }, (response) => {
      const stream: Stream = { response, events: [], body: '', closed: new Promise((done) => response.once('close', done)) };
      let pending = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        stream.body += response.statusCode === 200 ? '' : chunk;
        const blocks = (pending + chunk).split('\n\n');
        pending = blocks.pop() ?? '';
        for (const block of blocks) {
          const field = (name: string) => block.split('\n').find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2);
          if (field('event')) stream.events.push({ event: field('event') as string, id: Number(field('id')) });
        }
      });
      response.on('error', () => undefined);
      resolve(stream);
    });
    request.on('error', reject);
    t.after(() => request.destroy());
  });
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

function busy(port: number): Registration {
  return { service: 'Busy', url: `http://127.0.0.1:${port}`, requires: [], updateUrl: null, heartbeatUrl: null, ttlMs: 600_000, metadata: { note: 'x'.repeat(3000) }, protocol: 'v1', owner: null };
}

test('maxWatchStreams and maxWatchStreamsPerCredential: refused with 429 before the stream starts', async (t) => {
  const running = await startLimitsRegistry(t, { limits: { maxWatchStreams: 3, maxWatchStreamsPerCredential: 2 } });
  const alice = [await openStream(t, running.url, SECRETS.alice), await openStream(t, running.url, SECRETS.alice)];
  assert.deepEqual(alice.map((stream) => stream.response.statusCode), [200, 200]);

  const third = await openStream(t, running.url, SECRETS.alice);
  await third.closed;
  assert.equal(third.response.statusCode, 429);
  assert.equal(JSON.parse(third.body).code, 'LIMIT_REACHED');
  assert.match(JSON.parse(third.body).message, /credential "alice" has 2 open watch streams: the limit "maxWatchStreamsPerCredential" \(2\)/);

  const bob = await openStream(t, running.url, SECRETS.bob);
  assert.equal(bob.response.statusCode, 200);
  const overall = await openStream(t, running.url, running.admin);
  await overall.closed;
  assert.equal(overall.response.statusCode, 429);
  assert.match(JSON.parse(overall.body).message, /the registry has 3 open watch streams: the limit "maxWatchStreams" \(3\)/);
  assert.equal(running.app.openWatchStreams, 3);
  assert.equal(await rejectionsOf(running, 'maxWatchStreamsPerCredential'), 1);
  assert.equal(await rejectionsOf(running, 'maxWatchStreams'), 1);

  // A stream that ends gives its place back.
  alice[0]?.response.destroy();
  await until(() => running.app.openWatchStreams === 2);
  assert.equal((await openStream(t, running.url, SECRETS.alice)).response.statusCode, 200);
});

test('watchBacklogBytes: a reader that stops reading is cut, and resumes after its last revision', async (t) => {
  const running = await startLimitsRegistry(t, { limits: { watchBacklogBytes: 64 * 1024 } });
  const stalled = await openStream(t, running.url, SECRETS.alice);
  const reading = await openStream(t, running.url, SECRETS.bob);
  await until(() => stalled.events.length > 0 && reading.events.length > 0);

  // Changes come until the stalled stream is cut: the socket buffers of both ends fill first,
  // then 64 KiB wait in the registry's memory. The reader gets a few before it stops.
  let changes = 0;
  const change = async (): Promise<void> => {
    await running.registry.register(busy(7001));
    running.registry.deregisterByUrl(busy(7001).url);
    changes += 2;
    await new Promise((resolve) => setImmediate(resolve));
  };
  for (let i = 0; i < 3; i++) await change();
  await until(() => stalled.events.length === 7);
  stalled.response.pause();
  while (changes < 20_000 && running.app.openWatchStreams === 2) await change();

  assert.equal(running.app.openWatchStreams, 1, 'the stalled stream was cut, the reading one was not');
  // The reader wakes up: it takes what reached it before the cut, then sees the stream end.
  stalled.response.resume();
  await stalled.closed;
  assert.equal(await rejectionsOf(running, 'watchBacklogBytes'), 1);
  await until(() => reading.events.length === 1 + changes);

  // Reconnecting with the last revision it took, it gets every change after it, in order.
  const last = stalled.events.at(-1)?.id as number;
  const resumed = await openStream(t, running.url, SECRETS.alice, { 'last-event-id': String(last) });
  const expected = running.registry.revision - last;
  await until(() => resumed.events.length === expected);
  assert.deepEqual(resumed.events.map((event) => event.id), Array.from({ length: expected }, (_, i) => last + 1 + i));
  assert.ok(resumed.events.every((event) => event.event === 'change'));
});
