// Bounds on what one request or connection may hold: the body (413, naming the limit), the
// headers (Node's 431), the connections (beyond the cap Node drops them) and the time a client
// may take to send its headers or its request (408). Each refusal changes nothing and is counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { buildRegistryServer } from '../../../src/registry/http/server.js';
import { resolveLimits } from '../../../src/registry/limits.js';
import { Registry } from '../../../src/registry/registry.js';
import { call, catalogUrls, rejectionsOf, startLimitsRegistry, v1Body } from './limits-registry.js';

test('maxBodyBytes: a larger body is a 413 naming the size and the limit, through either protocol', async (t) => {
  const running = await startLimitsRegistry(t, { limits: { maxBodyBytes: 1024 } });
  const big = v1Body('Greeter', 7001, { metadata: { note: 'x'.repeat(2000) } });
  const refused = await call(running.url, 'POST', '/v1/instances', { token: running.admin, body: big });
  assert.equal(refused.status, 413);
  assert.equal(refused.json.code, 'PAYLOAD_TOO_LARGE');
  assert.match(refused.json.message ?? '', /the body is larger than 1024 bytes \(the limit "maxBodyBytes"; option limits\.maxBodyBytes/);

  const course = JSON.stringify({ ServiceName: 'LogService', ServiceURL: 'http://127.0.0.1:4000', RequiredServices: [], ServiceUpdateURL: '', HeartbeatURL: '', Padding: 'x'.repeat(2000) });
  const refusedCourse = await call(running.url, 'POST', '/services', { body: course });
  assert.equal(refusedCourse.status, 413);
  assert.match(refusedCourse.text, /larger than 1024 bytes .*maxBodyBytes/);

  assert.deepEqual(await catalogUrls(running), []);
  assert.equal(await rejectionsOf(running, 'maxBodyBytes'), 2);
  assert.equal((await call(running.url, 'POST', '/v1/instances', { token: running.admin, body: v1Body('Greeter', 7001) })).status, 201);
});

test('maxHeaderBytes: Node answers larger headers with 431 before any route; counted', async (t) => {
  const running = await startLimitsRegistry(t, { limits: { maxHeaderBytes: 2048 } });
  const refused = await call(running.url, 'POST', '/v1/instances', { token: running.admin, body: v1Body('Greeter', 7001), headers: { 'x-padding': 'x'.repeat(4000) } });
  assert.equal(refused.status, 431);
  assert.deepEqual(await catalogUrls(running), []);
  assert.equal(await rejectionsOf(running, 'maxHeaderBytes'), 1);
});

test('maxConnections: a connection beyond the cap is dropped at once; the others are served', async (t) => {
  const running = await startLimitsRegistry(t, { limits: { maxConnections: 2 } });
  const [first, second] = await Promise.all([open(running.port), open(running.port)]);
  const extra = await open(running.port);
  assert.equal(await extra.received, '', 'dropped without an answer');

  first.socket.write('GET /v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  assert.match(await first.received, /^HTTP\/1\.1 200/);
  second.socket.destroy();
  await second.received;
  assert.equal(await rejectionsOf(running, 'maxConnections'), 1);
});

test('headersTimeoutMs and requestTimeoutMs: a client too slow with its headers or its body gets 408 and loses its socket', async (t) => {
  const running = await startLimitsRegistry(t, { limits: { headersTimeoutMs: 200, requestTimeoutMs: 400 } });
  const slowHeaders = await open(running.port);
  slowHeaders.socket.write('GET /v1/health HTTP/1.1\r\nHost: localhost\r\n');
  assert.match(await slowHeaders.received, /^HTTP\/1\.1 408/);

  const slowBody = await open(running.port);
  slowBody.socket.write(`POST /v1/instances HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${running.admin}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"serv`);
  assert.match(await slowBody.received, /^HTTP\/1\.1 408/);

  assert.deepEqual(await catalogUrls(running), []);
  assert.equal(await rejectionsOf(running, 'headersTimeoutMs'), 1);
  assert.equal(await rejectionsOf(running, 'requestTimeoutMs'), 1);
});

test('a headers timeout longer than the request timeout is refused, naming the option', async (t) => {
  const registry = new Registry({ channel: { send: async () => undefined, close: async () => undefined }, probe: async () => undefined });
  t.after(() => registry.close(0));
  const message = /"limits\.headersTimeoutMs" must be at most limits\.requestTimeoutMs \(1000\)/;
  const input = { headersTimeoutMs: 5000, requestTimeoutMs: 1000 };
  assert.throws(() => resolveLimits(input), { code: 'INVALID_OPTION', message });
  // Limits handed to the server directly are checked there too.
  const limits = { ...resolveLimits(), ...input };
  assert.throws(() => buildRegistryServer(registry, { auth: { insecure: true }, limits }), { code: 'INVALID_OPTION', message });
});

/** A raw connection, and everything the server sends on it until the connection closes. */
async function open(port: number): Promise<{ socket: Socket; received: Promise<string> }> {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (text += chunk));
  socket.on('error', () => undefined);
  const received = once(socket, 'close').then(() => text);
  await once(socket, 'connect');
  return { socket, received };
}
