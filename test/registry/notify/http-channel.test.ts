import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import type { Patch } from '../../../src/protocol/course.js';
import { HttpChannel } from '../../../src/registry/notify/http-channel.js';
import { Notifier } from '../../../src/registry/notify/notifier.js';

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
