// A malformed watch event from a registry is reported through disconnected(), never thrown at
// the owner: the stream ends, backs off, and tries again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WatchStream } from '../../src/client/watch-stream.js';
import type { RosterError } from '../../src/protocol/errors.js';
import { FakeClock } from '../helpers/fake-clock.js';

test('a malformed event is reported as REGISTRY_ERROR through disconnected, and the stream backs off', async (t) => {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    response.end('event: change\nid: 1\ndata: {"revision": 1, "type": "passing", "instance": {"url": 5}}\n\n');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const { port } = server.address() as AddressInfo;

  const changes: unknown[] = [];
  const reported = new Promise<{ error: RosterError; retryInMs: number }>((resolve) => {
    const stream = new WatchStream({
      registryUrl: () => `http://127.0.0.1:${port}`,
      since: () => undefined,
      clock: new FakeClock(),
      random: () => 0.5,
      handlers: {
        snapshot: () => assert.fail('no snapshot was sent'),
        change: (change) => changes.push(change),
        disconnected: (error, retryInMs) => resolve({ error, retryInMs }),
      },
    });
    t.after(() => stream.close());
    stream.start();
  });

  const { error, retryInMs } = await reported;
  assert.equal(error.code, 'REGISTRY_ERROR');
  assert.match(error.message, /invalid "change" event: "instance\.(id|url)"/);
  assert.deepEqual(changes, []);
  assert.ok(retryInMs > 0);
});
