import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RegistryClient } from '../../src/client/index.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { recordingLogger } from '../helpers/fake-registry.js';

const LOG_A = 'http://127.0.0.1:4001';

/** A plain node:http server that tries the client first, then its own fallback. */
async function serve(t: TestContext): Promise<{ client: RegistryClient; base: string }> {
  let client: RegistryClient | undefined;
  const server = createServer(async (req, res) => {
    if (await client?.handleRequest(req, res)) return;
    res.writeHead(200, { 'content-type': 'text/plain' }).end('fallback');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.after(() => new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  }));
  client = new RegistryClient({ service: 'Portal', url: base, requires: ['LogService'], registryUrl: 'http://127.0.0.1:9', clock: new FakeClock(), logger: recordingLogger() });
  t.after(() => client?.close());
  return { client, base };
}

const patch = (body: string, method = 'POST') => ({ method, headers: { 'content-type': 'application/json' }, body });

test('POST a patch to the update path: 200 with an empty body, view updated', async (t) => {
  const { client, base } = await serve(t);
  const response = await fetch(`${base}/services`, patch(JSON.stringify({ Added: [{ Name: 'LogService', URL: LOG_A }], Removed: [], Revision: 3, PrevRevision: 0 })));
  assert.equal(response.status, 200);
  assert.equal(await response.text(), '');
  assert.deepEqual(client.providers('LogService'), [LOG_A]);
});

test('update path: GET is 405 with Allow: POST', async (t) => {
  const { base } = await serve(t);
  const response = await fetch(`${base}/services`);
  assert.equal(response.status, 405);
  assert.equal(response.headers.get('allow'), 'POST');
  await response.arrayBuffer();
});

test('update path: bad JSON and bad patches are 400 in plain text', async (t) => {
  const { client, base } = await serve(t);
  const badJson = await fetch(`${base}/services`, patch('{"Added": ['));
  assert.equal(badJson.status, 400);
  assert.match(badJson.headers.get('content-type') ?? '', /^text\/plain/);
  assert.match(await badJson.text(), /not valid JSON/);
  const badPatch = await fetch(`${base}/services`, patch('{"Added": "LogService"}'));
  assert.equal(badPatch.status, 400);
  assert.match(await badPatch.text(), /invalid patch: "Added"/);
  assert.deepEqual(client.providers('LogService'), []);
});

test('update path: a body over 1 MiB is 413', async (t) => {
  const { base } = await serve(t);
  const huge = JSON.stringify({ Added: [], Removed: [], pad: 'x'.repeat(1024 * 1024) });
  const response = await fetch(`${base}/services`, patch(huge));
  assert.equal(response.status, 413);
  await response.arrayBuffer();
});

test('heartbeat: GET is 200 "ok", 503 while draining', async (t) => {
  const { client, base } = await serve(t);
  const ok = await fetch(`${base}/heartbeat?probe=1`);
  assert.equal(ok.status, 200);
  assert.match(ok.headers.get('content-type') ?? '', /^text\/plain/);
  assert.equal(await ok.text(), 'ok');

  client.setDraining(true);
  const draining = await fetch(`${base}/heartbeat`);
  assert.equal(draining.status, 503);
  await draining.arrayBuffer();
});

test('other paths are left untouched (false) for the fallback', async (t) => {
  const { base } = await serve(t);
  for (const path of ['/', '/students', '/services/extra', '/heartbeat/x']) {
    const response = await fetch(`${base}${path}`);
    assert.equal(await response.text(), 'fallback', path);
  }
});

test('requestListener: our paths, then the fallback, or a 404 JSON without one', async (t) => {
  const client = new RegistryClient({ service: 'Portal', url: 'http://127.0.0.1:5000', registryUrl: 'http://127.0.0.1:9', logger: recordingLogger() });
  t.after(() => client.close());
  const servers = [client.requestListener((_req, res) => void res.end('app')), client.requestListener()].map((listener) => createServer(listener));
  for (const server of servers) {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }));
  }
  const [withApp, bare] = servers.map((server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  assert.equal(await (await fetch(`${withApp}/heartbeat`)).text(), 'ok');
  assert.equal(await (await fetch(`${withApp}/students`)).text(), 'app');
  const missing = await fetch(`${bare}/students`);
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), { code: 'NOT_FOUND', message: 'no route GET /students' });
});
