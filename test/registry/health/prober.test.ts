import assert from 'node:assert/strict';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { createHttpProber, type HttpProber } from '../../../src/registry/health/prober.js';

/** A real server on 127.0.0.1, port 0; closed (with its connections) after the test. */
async function serve(t: TestContext, handler: RequestListener): Promise<{ url: string; connections: () => number }> {
  const server = createServer(handler);
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => closeServer(server));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/heartbeat`, connections: () => connections };
}

function closeServer(server: ReturnType<typeof createServer>): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function prober(t: TestContext): HttpProber {
  const created = createHttpProber();
  t.after(() => created.close());
  return created;
}

const never = new AbortController().signal;

test('HTTP 200 passes, and the connection is kept alive between probes', async (t) => {
  const paths: string[] = [];
  const { url, connections } = await serve(t, (req, res) => {
    paths.push(`${req.method} ${req.url}`);
    res.end('ok'.repeat(1000));
  });
  const { probe } = prober(t);
  for (let i = 0; i < 5; i++) await probe(url, 1000, never);
  assert.deepEqual(paths, Array(5).fill('GET /heartbeat'));
  // undici's pool may open a second socket while the first is being released, but no more.
  assert.ok(connections() <= 2, `${connections()} connections for 5 probes`);
});

for (const status of [204, 500, 503, 301]) {
  test(`HTTP ${status} fails with the status in the message`, async (t) => {
    const { url } = await serve(t, (_req, res) => {
      res.statusCode = status;
      if (status === 301) res.setHeader('location', '/elsewhere');
      res.end(status === 204 ? undefined : 'no');
    });
    const { probe } = prober(t);
    await assert.rejects(probe(url, 1000, never), { message: `answered HTTP ${status}` });
  });
}

test('a closed port fails with "connection refused"', async (t) => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await closeServer(server);
  const { probe } = prober(t);
  await assert.rejects(probe(`http://127.0.0.1:${port}/heartbeat`, 1000, never), { message: 'connection refused' });
});

test('a server that never answers fails with a timeout after timeoutMs', async (t) => {
  const { url } = await serve(t, () => {});
  const { probe } = prober(t);
  const started = performance.now();
  await assert.rejects(probe(url, 100, never), { message: 'timed out after 100 ms' });
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 95 && elapsed < 900, `took ${elapsed} ms`);
});

test('a body that never ends fails with a timeout too', async (t) => {
  const { url } = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('partial');
  });
  const { probe } = prober(t);
  const started = performance.now();
  await assert.rejects(probe(url, 100, never), { message: 'timed out after 100 ms' });
  assert.ok(performance.now() - started < 900);
});

test('the caller can abort a probe', async (t) => {
  const { url } = await serve(t, () => {});
  const { probe } = prober(t);
  const controller = new AbortController();
  const probing = probe(url, 5000, controller.signal);
  setImmediate(() => controller.abort());
  await assert.rejects(probing, { message: 'probe aborted' });
});

test('close is idempotent', async () => {
  const created = createHttpProber();
  await created.close();
  await created.close();
});

test('an answer longer than 64 KiB fails the probe instead of being read to its end', async (t) => {
  const { url } = await serve(t, (_req, res) => res.end('x'.repeat(200 * 1024)));
  const { probe } = prober(t);
  await assert.rejects(probe(url, 1000, never), { message: 'answer longer than 65536 bytes' });
});
