import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { RegistryClient } from '../../src/client/index.js';
import { SessionKeeper } from '../../src/client/session.js';
import { systemClock } from '../../src/shared/clock.js';
import { startRegistry } from '../../src/registry/start-registry.js';
import type { RegistryChange } from '../../src/registry/registry-api.js';
import { flushMicrotasks } from '../helpers/fake-clock.js';

async function setup(t: TestContext) {
  const running = await startRegistry({ host: '127.0.0.1', port: 0, store: 'memory', auth: { insecure: true }, course: { enabled: false } });
  const client = new RegistryClient({ service: 'S', url: 'http://127.0.0.1:9/s', registryUrl: running.url, liveness: 'session', registerRetry: false });
  t.after(async () => {
    await client.close();
    await running.close();
  });
  return { running, client };
}

/** Waits, without sleeping, until `done()` holds. */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await flushMicrotasks();
}

function nextChange(running: { registry: NodeJS.EventEmitter }, type: RegistryChange['type']): Promise<RegistryChange> {
  return new Promise((resolve) => {
    const listener = (change: RegistryChange) => {
      if (change.type !== type) return;
      running.registry.off('change', listener);
      resolve(change);
    };
    running.registry.on('change', listener);
  });
}

test("liveness 'session': registers without a heartbeat URL and holds a session open", async (t) => {
  const { running, client } = await setup(t);
  await client.register();
  const record = running.registry.instance(client.id);
  assert.equal(record.liveness, 'session');
  assert.equal(record.heartbeatUrl, null);
  assert.equal(record.ttlMs, null);
  await until(() => running.registry.sessions?.count === 1);
});

test('a registry that forgot the instance: the client registers again and reopens its session', async (t) => {
  const { running, client } = await setup(t);
  await client.register();
  await until(() => running.registry.sessions?.count === 1);
  const registeredAgain = nextChange(running, 'registered');
  running.registry.deregister(client.id);
  const change = await registeredAgain;
  assert.equal(change.instance.liveness, 'session');
  await until(() => running.registry.sessions?.count === 1);
});

test('deregister() closes the session and removes the instance', async (t) => {
  const { running, client } = await setup(t);
  await client.register();
  await until(() => running.registry.sessions?.count === 1);
  await client.deregister();
  await until(() => running.registry.sessions?.count === 0);
  assert.deepEqual(running.registry.instances(), []);
});

test("liveness 'session' takes no heartbeat URL, no TTL and not the course protocol", () => {
  const base = { service: 'S', url: 'http://127.0.0.1:9/s', liveness: 'session' } as const;
  assert.throws(() => new RegistryClient({ ...base, heartbeatUrl: 'http://127.0.0.1:9/s/heartbeat' }), /heartbeatUrl/);
  assert.throws(() => new RegistryClient({ ...base, heartbeatUrl: null, ttlMs: 5000 }), /ttlMs/);
  assert.throws(() => new RegistryClient({ ...base, protocol: 'course' }), /liveness/);
  assert.throws(() => new RegistryClient({ ...base, liveness: 'tcp' as 'session' }), /liveness/);
});

test('the session keeper answers the pings that ask for an answer and no others', async (t) => {
  const answers: string[] = [];
  let stream: ServerResponse | undefined;
  const server = createServer((req, res) => {
    req.resume();
    if (req.method === 'GET') {
      stream = res;
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write('{"type":"open","token":7,"pingMs":1000}\n');
      return;
    }
    answers.push(req.url ?? '');
    res.setHeader('content-type', 'application/json');
    res.end('{"connected":true}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const registryUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const keeper = new SessionKeeper({ registryUrl: () => registryUrl, instanceId: () => 'abc', clock: systemClock, reregister: async () => {} });
  t.after(() => keeper.close());
  keeper.start();
  await until(() => stream !== undefined);
  stream!.write('{"type":"ping","answer":false}\n{"type":"ping","answer":false}\n{"type":"ping"}\n');
  await until(() => answers.length === 1);
  stream!.write('{"type":"ping","answer":false}\n{"type":"ping"}\n');
  await until(() => answers.length === 2);
  assert.deepEqual(answers, ['/v1/instances/abc/session/ping?token=7', '/v1/instances/abc/session/ping?token=7']);
});
