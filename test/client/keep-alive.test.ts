import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryClient, type RegistryClientOptions } from '../../src/client/index.js';
import type { TimerHandle } from '../../src/shared/clock.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { FakeRegistry, listenLate, recordingLogger } from '../helpers/fake-registry.js';

const LOG_A = 'http://127.0.0.1:4001';
const LOG_B = 'http://127.0.0.1:4002';

/** A FakeClock that tells when a timer is set: the keep-alive loop sets one when a round ends. */
class WatchedClock extends FakeClock {
  #waiters: Array<() => void> = [];

  override setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle = super.setTimeout(fn, ms);
    for (const resolve of this.#waiters.splice(0)) resolve();
    return handle;
  }

  /** Moves time by `ms` and waits until the round it started has scheduled the next one. */
  async round(ms: number): Promise<void> {
    const scheduled = new Promise<void>((resolve) => this.#waiters.push(resolve));
    await this.tick(ms);
    await scheduled;
  }
}

async function setup(t: TestContext, options: Partial<RegistryClientOptions> = {}) {
  const registry = await FakeRegistry.start();
  t.after(() => registry.stop());
  const server = await listenLate();
  t.after(() => server.close());
  const clock = new WatchedClock();
  const logger = recordingLogger();
  const client = new RegistryClient({ service: 'Portal', url: server.url, requires: ['LogService'], registryUrl: registry.url, clock, logger, ...options });
  t.after(() => client.close());
  server.use(client.requestListener());
  return { registry, clock, logger, client };
}

const isRegister = (r: { method: string; path: string }) => r.method === 'POST' && r.path === '/v1/instances';

test('heartbeat mode: GET /v1/instances/{id} every checkIntervalMs; a 404 makes the client register again and rebuild its view', async (t) => {
  const { registry, clock, client } = await setup(t);
  registry.addInstance('LogService', LOG_A);
  await client.register();
  assert.deepEqual(client.providers('LogService'), [LOG_A]);

  await clock.round(5500);
  assert.equal(registry.count((r) => r.method === 'GET' && r.path === `/v1/instances/${client.id}`), 1);
  assert.equal(registry.count(isRegister), 1);

  // The registry restarts empty, with a new provider, and counts revisions from scratch.
  registry.instances.clear();
  registry.revision = 0;
  registry.addInstance('LogService', LOG_B);
  await clock.round(5500);

  assert.equal(registry.count(isRegister), 2);
  assert.deepEqual(client.providers('LogService'), [LOG_B]);
  assert.equal(client.lastRevision, registry.revision);
});

test('TTL mode: renews every ttl/3 through POST /v1/instances/{id}/renew', async (t) => {
  const { registry, clock, client } = await setup(t, { heartbeatUrl: null, ttlMs: 3000 });
  await client.register();
  assert.equal(JSON.parse(registry.requests[0]?.body ?? '{}').ttlMs, 3000);

  await clock.round(1100);
  await clock.round(1100);

  assert.equal(registry.count((r) => r.method === 'POST' && r.path === `/v1/instances/${client.id}/renew`), 2);
});

test('registry down: the last view is still served, one warning; back: one info and a refresh from full state', async (t) => {
  const { registry, clock, logger, client } = await setup(t);
  registry.addInstance('LogService', LOG_A);
  await client.register();
  const warnings: Error[] = [];
  client.on('warning', (error) => warnings.push(error));

  await registry.stop();
  for (let i = 0; i < 3; i++) await clock.round(5500);

  assert.equal(client.provider('LogService'), LOG_A);
  assert.equal(warnings.length, 1);
  assert.deepEqual(logger.messages('warn').length, 1);
  assert.match(logger.messages('warn')[0] ?? '', /cannot reach the Roster registry .*serving the last known providers/);

  // While it was away (or just before), a provider came and its patch never reached us.
  registry.addInstance('LogService', LOG_B);
  await registry.listen();
  await clock.round(5500);

  assert.equal(logger.messages('info').filter((m) => /reachable again/.test(m)).length, 1);
  assert.equal(registry.count((r) => r.method === 'GET' && r.path === '/v1/state'), 1);
  assert.deepEqual(client.providers('LogService'), [LOG_A, LOG_B]);
  assert.equal(client.lastRevision, registry.revision);
});

test('without an update URL the client polls the full state at each check', async (t) => {
  const { registry, clock, client } = await setup(t, { updateUrl: null });
  await client.register();
  registry.addInstance('LogService', LOG_A);
  await clock.round(5500);
  assert.deepEqual(client.providers('LogService'), [LOG_A]);
});

test('deregister and close stop the loop: no timer is left', async (t) => {
  const { clock, client } = await setup(t);
  await client.register();
  assert.equal(clock.pending, 1);
  await client.deregister();
  assert.equal(clock.pending, 0);
  await client.close();
  await client.close();
});
