import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startService, type StartServiceOptions } from '../../src/service/index.js';
import { RosterError } from '../../src/protocol/index.js';
import { FakeRegistry, freePort, recordingLogger } from '../helpers/fake-registry.js';

async function startRegistry(t: TestContext): Promise<FakeRegistry> {
  const registry = await FakeRegistry.start();
  t.after(() => registry.stop());
  return registry;
}

function options(registry: FakeRegistry, extra: Partial<StartServiceOptions> = {}): StartServiceOptions {
  return { name: 'GradingService', host: '127.0.0.1', registryUrl: registry.url, handleSignals: false, logger: recordingLogger(), ...extra };
}

test('listens before registering: the registry reaches the heartbeat before it answers', async (t) => {
  const registry = await startRegistry(t);
  registry.addInstance('LogService', 'http://127.0.0.1:4001');
  let heartbeat: number | undefined;
  registry.beforeRegisterAnswer = async (body) => {
    const response = await fetch(body.heartbeatUrl ?? '');
    heartbeat = response.status;
    await response.arrayBuffer();
  };

  const service = await startService(options(registry, { requires: ['LogService'], waitForRequired: true }));
  t.after(() => service.close());

  assert.equal(heartbeat, 200);
  assert.equal(service.url, `http://127.0.0.1:${service.port}`);
  assert.equal(service.client.provider('LogService'), 'http://127.0.0.1:4001');
});

test('the handler serves the app; without one, unknown paths are a 404 JSON', async (t) => {
  const registry = await startRegistry(t);
  const app = await startService(options(registry, { handler: (_req, res) => void res.end('grades') }));
  t.after(() => app.close());
  const bare = await startService(options(registry, { name: 'LogService' }));
  t.after(() => bare.close());

  assert.equal(await (await fetch(`${app.url}/students`)).text(), 'grades');
  assert.equal(await registry.probe(`${app.url}/heartbeat`), 200);
  // The registry signs its probes: an unsigned one is refused.
  assert.equal((await fetch(`${app.url}/heartbeat`)).status, 401);
  const missing = await fetch(`${bare.url}/students`);
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { code: string }).code, 'NOT_FOUND');
});

test('close() drains, deregisters and stops listening; it is idempotent', async (t) => {
  const registry = await startRegistry(t);
  const service = await startService(options(registry));

  await Promise.all([service.close(), service.close()]);
  await service.close();

  assert.equal(registry.count((r) => r.method === 'DELETE' && r.path === `/v1/instances/${service.client.id}`), 1);
  assert.equal(service.server.listening, false);
  assert.equal(registry.instances.size, 0);
});

test('close() runs onShutdown once, after the service has deregistered and stopped accepting', async (t) => {
  const registry = await startRegistry(t);
  const seen: Array<{ listening: boolean; deregistered: number }> = [];
  const service = await startService(options(registry, {
    onShutdown: async () => {
      seen.push({ listening: service.server.listening, deregistered: registry.count((r) => r.method === 'DELETE') });
    },
  }));

  await Promise.all([service.close(), service.close()]);
  await service.close();

  assert.deepEqual(seen, [{ listening: false, deregistered: 1 }]);
});

test('an onShutdown that throws is logged; close() still resolves', async (t) => {
  const registry = await startRegistry(t);
  const logger = recordingLogger();
  const service = await startService(options(registry, { logger, onShutdown: async () => Promise.reject(new Error('disk gone')) }));

  await service.close();

  assert.match(logger.messages('error').join('\n'), /onShutdown failed: Error: disk gone/);
  assert.equal(service.server.listening, false);
});

test('a failed waitForRequired stops the service without running onShutdown: the caller still owns its resources', async (t) => {
  const registry = await startRegistry(t);
  let ran = 0;
  const start = startService(options(registry, { requires: ['LogService'], waitForRequired: { timeoutMs: 50 }, onShutdown: async () => void ran++ }));

  await assert.rejects(start);
  assert.equal(ran, 0);
  assert.equal(registry.instances.size, 0);
});

test('a port in use fails with a message naming the port and how to choose another', async (t) => {
  const registry = await startRegistry(t);
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => taken.close(() => resolve())));
  const { port } = taken.address() as AddressInfo;

  await assert.rejects(startService(options(registry, { port })), (error: unknown) => {
    assert.ok(error instanceof RosterError);
    assert.match(error.message, new RegExp(`port ${port} is already in use.*--port.*ROSTER_PORT`));
    return true;
  });
  assert.equal(registry.requests.length, 0);
});

test('a refused registration closes the server and throws the registry\'s message', async (t) => {
  const registry = await startRegistry(t);
  registry.intercept = () => ({ status: 400, body: { code: 'INVALID_REQUEST', message: 'invalid registration: "metadata" too big' } });
  const port = await freePort();

  await assert.rejects(startService(options(registry, { port })), { code: 'INVALID_REQUEST', message: 'invalid registration: "metadata" too big' });

  // The port is free again: nothing was left listening.
  const again = createServer();
  await new Promise<void>((resolve, reject) => again.once('error', reject).listen(port, '127.0.0.1', resolve));
  await new Promise((resolve) => again.close(resolve));
});

test('registerRetry false: an unreachable registry fails start-up with REGISTRY_UNREACHABLE', async () => {
  const dead = `http://127.0.0.1:${await freePort()}`;
  await assert.rejects(
    startService({ name: 'LogService', host: '127.0.0.1', registryUrl: dead, registerRetry: false, handleSignals: false, logger: recordingLogger() }),
    { code: 'REGISTRY_UNREACHABLE' },
  );
});

test('ROSTER_PORT and ROSTER_URL configure the port and the advertised URL', async (t) => {
  const registry = await startRegistry(t);
  const port = await freePort();
  const saved = { port: process.env.ROSTER_PORT, url: process.env.ROSTER_URL };
  t.after(() => {
    for (const [key, value] of [['ROSTER_PORT', saved.port], ['ROSTER_URL', saved.url]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });
  process.env.ROSTER_PORT = String(port);
  process.env.ROSTER_URL = `http://localhost:${port}`;

  const service = await startService(options(registry));
  t.after(() => service.close());

  assert.equal(service.port, port);
  assert.equal(service.url, `http://localhost:${port}`);
  assert.equal(JSON.parse(registry.requests[0]?.body ?? '{}').url, `http://localhost:${port}`);
});

test('bad options are refused before anything listens', async () => {
  await assert.rejects(startService({ name: 'LogService', port: 70000, handleSignals: false }), { code: 'INVALID_OPTION', message: /^option "port"/ });
  const onShutdown = 'close the db' as unknown as () => Promise<void>;
  await assert.rejects(startService({ name: 'LogService', handleSignals: false, onShutdown }), { code: 'INVALID_OPTION', message: /^option "onShutdown"/ });
});
