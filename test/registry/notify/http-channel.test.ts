import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import type { Patch } from '../../../src/protocol/course.js';
import { HttpChannel } from '../../../src/registry/notify/http-channel.js';
import { Notifier } from '../../../src/registry/notify/notifier.js';
import { checkSignature, SIGNATURE_HEADER } from '../../../src/protocol/signature.js';
import type { Registration } from '../../../src/registry/catalog.js';
import { Registry } from '../../../src/registry/registry.js';
import { FakeClock } from '../../helpers/fake-clock.js';

interface Received {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingMessage['headers'];
  body: string;
  remotePort: number | undefined;
}

/** A real server on 127.0.0.1:0 that records each request once its body has arrived. */
async function serve(t: TestContext, answer: (res: ServerResponse, received: Received) => void) {
  const received: Received[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const { method, url, headers } = req;
    const entry = { method, url, headers, body: Buffer.concat(chunks).toString('utf8'), remotePort: req.socket.remotePort };
    received.push(entry);
    server.emit('received', entry);
    answer(res, entry);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => closeServer(server));
  const { port } = server.address() as AddressInfo;
  return { server, received, url: `http://127.0.0.1:${port}/services` };
}

async function closeServer(server: ReturnType<typeof createServer>): Promise<void> {
  if (!server.listening) return;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

function channelFor(t: TestContext): HttpChannel {
  const channel = new HttpChannel();
  t.after(() => channel.close());
  return channel;
}

const patch: Patch = {
  Added: [{ Name: 'LogService', URL: 'http://localhost:4000' }],
  Removed: [],
  Revision: 3,
  PrevRevision: 2,
};
const never = new AbortController().signal;

test('POSTs the patch as JSON, keys in course order', async (t) => {
  const { received, url } = await serve(t, (res) => res.end('thanks'));
  const channel = channelFor(t);
  // Built in another key order on purpose: the body must still follow the course's order.
  await channel.send(url, { PrevRevision: 2, Revision: 3, Removed: [], Added: patch.Added }, never);
  await channel.send(url, { Added: [], Removed: patch.Added }, never);

  const [first, second] = received;
  assert.equal(first?.method, 'POST');
  assert.equal(first?.url, '/services');
  assert.equal(first?.headers['content-type'], 'application/json');
  assert.equal(first?.body, '{"Added":[{"Name":"LogService","URL":"http://localhost:4000"}],"Removed":[],"Revision":3,"PrevRevision":2}');
  assert.equal(first?.headers['content-length'], String(Buffer.byteLength(first?.body ?? '')));
  assert.equal(second?.body, '{"Added":[],"Removed":[{"Name":"LogService","URL":"http://localhost:4000"}]}');
});

test('keeps connections alive across sends', async (t) => {
  const { received, url } = await serve(t, (res) => res.end('thanks'));
  const channel = channelFor(t);
  for (let i = 0; i < 10; i++) await channel.send(url, patch, never);
  // undici's pool may open a second socket when a send follows the last answer at once.
  const sockets = new Set(received.map((r) => r.remotePort));
  assert.ok(sockets.size <= 2, `10 sends used ${sockets.size} sockets`);
});

test('any 2xx resolves; other statuses reject with a clear message', async (t) => {
  let status = 204;
  const { url } = await serve(t, (res) => {
    res.statusCode = status;
    res.end('body that must be consumed');
  });
  const channel = channelFor(t);
  await channel.send(url, patch, never);
  for (status of [500, 404, 301]) {
    const expected = `POST ${url} answered HTTP ${status}`;
    await assert.rejects(channel.send(url, patch, never), { message: expected });
  }
});

test('a closed port rejects with "connection refused"', async (t) => {
  const { server, url } = await serve(t, (res) => res.end());
  await closeServer(server);
  await assert.rejects(channelFor(t).send(url, patch, never), {
    message: `POST ${url} failed: connection refused`,
  });
});

test('a server that never answers is stopped by the signal, with the reason in the message', async (t) => {
  const { server, url } = await serve(t, () => {});
  const channel = channelFor(t);
  for (const [reason, expected] of [
    [new DOMException('timed out after 50 ms', 'TimeoutError'), `POST ${url} timed out after 50 ms`],
    [new Error('subscriber removed'), `POST ${url} aborted (subscriber removed)`],
  ] as const) {
    const abort = new AbortController();
    const sending = channel.send(url, patch, abort.signal);
    await once(server, 'received');
    abort.abort(reason);
    await assert.rejects(sending, { message: expected });
  }
});

test('Notifier over HTTP: a hung subscriber does not hold back the others', async (t) => {
  const answerAll = (res: ServerResponse) => res.end();
  const left = await serve(t, answerAll);
  const right = await serve(t, answerAll);
  const hung = await serve(t, () => {});
  const channel = channelFor(t);
  const notifier = new Notifier({ channel, options: { timeoutMs: 60_000 } });
  t.after(() => notifier.close(0));

  const revisions = Array.from({ length: 20 }, (_, i) => i + 1);
  const enqueueAll = (url: string) =>
    revisions.map((Revision) => notifier.enqueue(url, { Added: [], Removed: [], Revision }));
  const hungResults = enqueueAll(hung.url);
  const hungReached = once(hung.server, 'received');
  const delivered = await Promise.all([...enqueueAll(left.url), ...enqueueAll(right.url)]);
  await hungReached;

  assert.ok(delivered.every(Boolean));
  for (const { received } of [left, right]) {
    const bodies = received.map((r) => JSON.parse(r.body) as Patch);
    assert.deepEqual(bodies.map((p) => p.Revision), revisions);
    assert.deepEqual(bodies.map((p) => p.PrevRevision), [0, ...revisions.slice(0, -1)]);
  }
  assert.equal(notifier.pending(hung.url), 20, 'the hung subscriber still has all of its patches');
  assert.equal(hung.received.length, 1, 'and only one of them was sent');

  await notifier.close(0);
  assert.deepEqual(await Promise.all(hungResults), revisions.map(() => false));
});

test('a sign function adds roster-signature over the exact body sent, per target', async (t) => {
  const { received, url } = await serve(t, (res) => res.end());
  const asked: Array<[string, string]> = [];
  const channel = new HttpChannel({
    sign: (target, body) => {
      asked.push([target, body]);
      return target === url ? 't=1,v1=abc' : null;
    },
  });
  t.after(() => channel.close());
  await channel.send(url, patch, never);
  await channel.send(`${url}?unsigned`, patch, never);
  assert.deepEqual(asked.map(([target]) => target), [url, `${url}?unsigned`]);
  assert.equal(asked[0]?.[1], received[0]?.body);
  assert.equal(received[0]?.headers[SIGNATURE_HEADER], 't=1,v1=abc');
  assert.equal(received[0]?.headers['content-type'], 'application/json');
  assert.equal(received[1]?.headers[SIGNATURE_HEADER], undefined);
});

test('a redirect is not followed: the patch fails and the other URL is never called', async (t) => {
  const elsewhere = await serve(t, (res) => res.end());
  const { url } = await serve(t, (res) => {
    res.writeHead(302, { location: elsewhere.url }).end();
  });
  await assert.rejects(channelFor(t).send(url, patch, never), { message: `POST ${url} answered HTTP 302` });
  assert.equal(elsewhere.received.length, 0);
});

/** A Registry delivering over a real HttpChannel that signs with the registry's keys. */
function signingRegistry(t: TestContext) {
  const clock = new FakeClock();
  const channel: HttpChannel = new HttpChannel({ sign: (target, body) => registry.signatureFor(target, body) });
  const registry: Registry = new Registry({ clock, channel, probe: async () => undefined, options: { initialDeliveryWaitMs: 60_000 } });
  t.after(async () => {
    await registry.close(0);
    await channel.close();
  });
  return { clock, registry };
}

function registration(url: string, protocol: Registration['protocol']): Registration {
  return { service: 'grading', url: new URL(url).origin, requires: ['log'], updateUrl: url, heartbeatUrl: null, ttlMs: null, metadata: {}, protocol, owner: null };
}

test('patches to a v1 instance carry a valid signature by its key; course instances get none', async (t) => {
  const v1 = await serve(t, (res) => res.end());
  const course = await serve(t, (res) => res.end());
  const { clock, registry } = signingRegistry(t);
  const v1Answer = await registry.register(registration(v1.url, 'v1'));
  const courseAnswer = await registry.register({ ...registration(course.url, 'course'), url: `${new URL(course.url).origin}/course` });
  assert.equal(v1Answer.delivered, true);
  assert.equal(courseAnswer.signingKey, null);

  const [signed] = v1.received;
  const key = v1Answer.signingKey as string;
  assert.equal(checkSignature(key, signed?.headers[SIGNATURE_HEADER] as string, signed?.body ?? '', clock.now()), 'valid');
  assert.equal(checkSignature(key, signed?.headers[SIGNATURE_HEADER] as string, `${signed?.body} `, clock.now()), 'bad');
  assert.equal(course.received[0]?.headers[SIGNATURE_HEADER], undefined);
});

test('a re-registration under another owner changes the key patches are signed with; deregistering stops signing', async (t) => {
  const target = await serve(t, (res) => res.end());
  const { clock, registry } = signingRegistry(t);
  const first = await registry.register({ ...registration(target.url, 'v1'), owner: 'a' });
  const second = await registry.register({ ...registration(target.url, 'v1'), owner: 'b' });
  assert.notEqual(first.signingKey, second.signingKey);
  const header = target.received[1]?.headers[SIGNATURE_HEADER] as string;
  assert.equal(checkSignature(second.signingKey as string, header, target.received[1]?.body ?? '', clock.now()), 'valid');
  registry.deregisterByUrl(new URL(target.url).origin);
  assert.equal(registry.signatureFor(target.url, '{}'), null);
});
