// A service built with startService (and so each demo service) bounds its clients: a request that
// sends its headers, or its body, a byte at a time is cut by the server after the timeout, and
// connections beyond the cap are dropped. Node's server timers run on the wall clock, so the tests
// use small timeouts and assert what the server did (closed the socket, answered 408), never how
// long it took.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startService, type RunningService, type StartServiceOptions } from '../../src/service/index.js';
import { runLogService } from '../../src/services/log/main.js';
import { DEFAULT_SERVER_LIMITS } from '../../src/shared/server-limits.js';
import { FakeRegistry, recordingLogger } from '../helpers/fake-registry.js';

const BOUNDED = { timeout: 30_000 };

async function service(t: TestContext, extra: Partial<StartServiceOptions> = {}): Promise<RunningService> {
  const registry = await FakeRegistry.start();
  t.after(() => registry.stop());
  const running = await startService({
    name: 'GradingService',
    host: '127.0.0.1',
    registryUrl: registry.url,
    handleSignals: false,
    logger: recordingLogger(),
    handler: (_req, res) => void res.end('grades'),
    ...extra,
  });
  t.after(() => running.close());
  return running;
}

interface Drip {
  /** Bytes written before the server closed the connection. */
  sent: number;
  /** What the server answered before closing, if anything. */
  answer: string;
}

/**
 * Sends `head` at once, then `text` one byte every `everyMs` (the slow client's own pace) until it
 * is all sent or the server closes the connection; resolves when the socket is closed.
 */
async function drip(port: number, text: string, { head = '', everyMs = 25 } = {}): Promise<Drip> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let sent = 0;
  let answer = '';
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
  // Writing after the server has closed fails with EPIPE or ECONNRESET: that is the close we wait for.
  socket.on('error', () => undefined);
  socket.write(head);
  const timer = setInterval(() => {
    if (sent < text.length && socket.writable) socket.write(text[sent++]!);
  }, everyMs);
  await once(socket, 'close');
  clearInterval(timer);
  return { sent, answer };
}

const SLOW_HEADERS = `GET /students HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ${'a'.repeat(300)}\r\n\r\n`;

test('headers sent a byte at a time: the server answers 408 and closes after headersTimeoutMs', BOUNDED, async (t) => {
  const running = await service(t, { server: { headersTimeoutMs: 200, requestTimeoutMs: 400 } });
  const { sent, answer } = await drip(running.port, SLOW_HEADERS);
  assert.ok(sent < SLOW_HEADERS.length, `the server closed the connection before the headers were complete (${sent} of ${SLOW_HEADERS.length} bytes)`);
  assert.match(answer, /^HTTP\/1\.1 408 /);
});

test('a body sent a byte at a time: the server answers 408 and closes after requestTimeoutMs', BOUNDED, async (t) => {
  // An app that reads the whole body before it answers, as a form or a JSON route does.
  const handler: StartServiceOptions['handler'] = (req, res) => void req.resume().on('end', () => res.end('stored'));
  const running = await service(t, { handler, server: { headersTimeoutMs: 200, requestTimeoutMs: 400 } });
  const body = 'x'.repeat(500);
  const head = `POST /students HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n`;
  // The headers at once (so the headers timeout does not apply), then the body dripping.
  const { sent, answer } = await drip(running.port, body, { head });
  assert.ok(sent < body.length, `the server closed the connection before the body was complete (${sent} of ${body.length} bytes)`);
  assert.match(answer, /^HTTP\/1\.1 408 /);
});

test('connections beyond maxConnections are dropped; those within are served', BOUNDED, async (t) => {
  const running = await service(t, { server: { maxConnections: 3 } });
  const open: Socket[] = [];
  t.after(() => open.forEach((socket) => socket.destroy()));
  // Others (the registry's first patch) may hold a connection too: open ours until the server holds 3.
  while ((await connections(running)) < 3) {
    // The server counts it once it has accepted it: wait for that, not for time.
    const accepted = once(running.server, 'connection');
    const socket = connect(running.port, '127.0.0.1');
    open.push(socket);
    await Promise.all([once(socket, 'connect'), accepted]);
  }
  const dropped = once(running.server, 'drop');
  const extra = connect(running.port, '127.0.0.1');
  extra.on('error', () => undefined);
  await dropped;
  await once(extra, 'close');
  assert.equal(running.server.maxConnections, 3);
  // A connection within the cap is served as ever.
  open.forEach((socket) => socket.destroy());
  await Promise.all(open.map((socket) => (socket.closed ? undefined : once(socket, 'close'))));
  assert.equal(await (await fetch(`${running.url}/students`, { headers: { connection: 'close' } })).text(), 'grades');
});

function connections(running: RunningService): Promise<number> {
  return new Promise((resolve, reject) => running.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
}

test('the defaults apply without the option; a bad one is refused naming it', BOUNDED, async (t) => {
  const running = await service(t);
  assert.equal(running.server.headersTimeout, DEFAULT_SERVER_LIMITS.headersTimeoutMs);
  assert.equal(running.server.requestTimeout, DEFAULT_SERVER_LIMITS.requestTimeoutMs);
  assert.equal(running.server.keepAliveTimeout, DEFAULT_SERVER_LIMITS.keepAliveTimeoutMs);
  assert.equal(running.server.maxConnections, DEFAULT_SERVER_LIMITS.maxConnections);

  await assert.rejects(service(t, { server: { headersTimeoutMs: 500, requestTimeoutMs: 100 } }), { code: 'INVALID_OPTION', message: /server\.headersTimeoutMs/ });
  await assert.rejects(service(t, { server: { maxConnections: 0 } }), { code: 'INVALID_OPTION', message: /server\.maxConnections/ });
});

test('a demo service passes its server option to startService', BOUNDED, async (t) => {
  const registry = await FakeRegistry.start();
  t.after(() => registry.stop());
  const dataDir = mkdtempSync(join(tmpdir(), 'roster-server-limits-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const log = await runLogService({ port: 0, host: '127.0.0.1', dataDir, registryUrl: registry.url, handleSignals: false, logger: pino({ level: 'silent' }), server: { headersTimeoutMs: 200, requestTimeoutMs: 400, maxConnections: 50 } });
  t.after(() => log.close());
  assert.equal(log.server.maxConnections, 50);
  const { answer } = await drip(log.port, SLOW_HEADERS);
  assert.match(answer, /^HTTP\/1\.1 408 /);
});
