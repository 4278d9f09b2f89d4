// The /v1 routes read time on the registry's clock: the uptime in /v1/health and the age of
// the lookup cache move with a fake clock, and only with it.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Registration } from '../../../src/registry/catalog.js';
import { buildRegistryServer } from '../../../src/registry/http/server.js';
import { Registry } from '../../../src/registry/registry.js';
import { startRegistry } from '../../../src/registry/start-registry.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const HEALTH = { intervalMs: 3000, jitter: 0, timeoutMs: 500, attempts: 1, retryDelayMs: 0, graceMs: 60_000 };

function setup(t: TestContext): { clock: FakeClock; registry: Registry; app: FastifyInstance } {
  const clock = new FakeClock();
  const registry = new Registry({
    clock,
    channel: { send: async () => undefined, close: async () => undefined },
    probe: async () => undefined,
    options: { health: HEALTH },
    random: () => 0,
  });
  const app = buildRegistryServer(registry, { clock, auth: { insecure: true } });
  t.after(async () => {
    await app.close();
    await registry.close(0);
  });
  return { clock, registry, app };
}

function heartbeatRegistration(service: string): Registration {
  const url = 'http://127.0.0.1:9';
  return { service, url, requires: [], updateUrl: null, heartbeatUrl: `${url}/heartbeat`, ttlMs: null, metadata: {}, protocol: 'v1', owner: null };
}

async function uptime(app: FastifyInstance): Promise<unknown> {
  const response = await app.inject('/v1/health');
  assert.equal(response.statusCode, 200);
  return response.json<{ uptimeMs: unknown }>().uptimeMs;
}

test('/v1/health reports the uptime on the registry clock', async (t) => {
  const { clock, app } = setup(t);
  assert.equal(await uptime(app), 0);
  await clock.tick(1500);
  assert.equal(await uptime(app), 1500);
});

test('startRegistry hands its clock to the server: the uptime moves with it', async (t) => {
  const clock = new FakeClock();
  const running = await startRegistry({ clock, host: '127.0.0.1', port: 0 });
  t.after(() => running.close());
  assert.equal(await uptime(running.app), 0);
  await clock.tick(60_000);
  assert.equal(await uptime(running.app), 60_000);
});

test('a cached lookup is kept for a second on the registry clock, then read afresh', async (t) => {
  const { clock, registry, app } = setup(t);
  await registry.register(heartbeatRegistration('log'));
  const lastCheckAt = async () => {
    const response = await app.inject('/v1/services/log');
    assert.equal(response.statusCode, 200);
    return response.json<{ service: { instances: Array<{ lastCheckAt: string | null }> } }>().service.instances[0]?.lastCheckAt;
  };
  const registeredAt = new Date(clock.now()).toISOString();
  assert.equal(await lastCheckAt(), null, 'cached before the first probe');
  // The first probe runs now; it changes the probe time, not the revision.
  await clock.tick(0);
  assert.equal(await lastCheckAt(), null, 'the cached answer is still fresh');
  await clock.tick(1000);
  assert.equal(await lastCheckAt(), null, 'a second old: still fresh');
  await clock.tick(1);
  assert.equal(await lastCheckAt(), registeredAt, 'older than a second: read afresh');
});
