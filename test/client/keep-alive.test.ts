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
  registry.now = () => clock.now();
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
  assert.deepEqual(logger.messages("warn").length, 1, logger.messages("warn").join("\n"));
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

test('a registration changed behind the client\'s back (update URL, service, owner) is noticed, logged and taken back', async (t) => {
  const { registry, clock, logger, client } = await setup(t);
  await client.register();
  const mine = registry.instances.get(client.id);
  assert.ok(mine);

  mine.updateUrl = 'http://127.0.0.1:6666/steal';
  await clock.round(5500);
  assert.equal(registry.count(isRegister), 2);
  assert.equal(registry.instances.get(client.id)?.updateUrl, client.options.updateUrl);
  assert.match(logger.messages('warn').at(-1) ?? '', /changed behind this client's back \(updateUrl "http:\/\/127\.0\.0\.1:6666\/steal", registered "http.*\/services"\); registering again/);

  const again = registry.instances.get(client.id);
  assert.ok(again);
  again.service = 'Impostor';
  again.heartbeatUrl = null;
  await clock.round(5500);
  assert.equal(registry.count(isRegister), 3);
  assert.match(logger.messages('warn').at(-1) ?? '', /service "Impostor", registered "Portal"; heartbeatUrl null/);

  // Nothing changed: nothing more is logged or registered.
  const warnings = logger.messages('warn').length;
  await clock.round(5500);
  assert.equal(registry.count(isRegister), 3);
  assert.equal(logger.messages('warn').length, warnings);
});

test('a change of owner is noticed; a NOT_OWNER refusal is logged with its message and retried later, not every round', async (t) => {
  const { registry, clock, logger, client } = await setup(t);
  registry.owner = 'portal';
  await client.register();
  const mine = registry.instances.get(client.id);
  assert.ok(mine);
  mine.owner = 'intruder';
  registry.intercept = (r) => (isRegister(r) ? { status: 409, body: { code: 'NOT_OWNER', message: 'instance belongs to "intruder"' } } : undefined);

  await clock.round(5500);
  const warnings = logger.messages('warn');
  assert.match(warnings.at(-2) ?? '', /changed behind this client's back \(owner "intruder", registered "portal"\); registering again/);
  assert.match(warnings.at(-1) ?? '', /refused to register .* again: instance belongs to "intruder"; next try in 10000 ms/);
  assert.equal(registry.count(isRegister), 2);

  // The next round is within the wait: no attempt, no new warning.
  await clock.round(5500);
  assert.equal(registry.count(isRegister), 2);
  assert.equal(logger.messages('warn').length, warnings.length);

  // Later it tries again, and waits twice as long after a second refusal.
  for (let i = 0; i < 3 && registry.count(isRegister) < 3; i++) await clock.round(5500);
  assert.equal(registry.count(isRegister), 3);
  assert.match(logger.messages('warn').at(-1) ?? '', /next try in 20000 ms/);

  // The intruder left: the next attempt takes the registration back.
  registry.intercept = undefined;
  registry.instances.delete(client.id);
  for (let i = 0; i < 6 && registry.count(isRegister) < 4; i++) await clock.round(5500);
  assert.equal(registry.count(isRegister), 4);
  assert.equal(registry.instances.get(client.id)?.owner, 'portal');
  assert.match(logger.messages('info').at(-1) ?? '', /registered Portal at .* again/);
});

test('TTL mode: a renewal answered 409 NOT_OWNER counts as a taken registration', async (t) => {
  const { registry, clock, logger, client } = await setup(t, { heartbeatUrl: null, ttlMs: 3000 });
  await client.register();
  registry.intercept = (r) => (r.path.endsWith('/renew') || isRegister(r) ? { status: 409, body: { code: 'NOT_OWNER', message: 'instance belongs to "intruder"' } } : undefined);
  await clock.round(1100);
  assert.match(logger.messages('warn').join('\n'), /now belongs to someone else: instance belongs to "intruder"; registering again/);
  assert.equal(registry.count(isRegister), 2);
});

test('credentials: the token goes as a Bearer header on registration, keep-alive, state and deregistration', async (t) => {
  const { registry, clock, client } = await setup(t, { token: 'secret-token_1', updateUrl: null });
  await client.register();
  await clock.round(5500);
  await client.deregister();
  const paths = registry.requests.map((r) => `${r.method} ${r.path}`);
  assert.deepEqual(paths, ['POST /v1/instances', `GET /v1/instances/${client.id}`, 'GET /v1/state', `DELETE /v1/instances/${client.id}`]);
  assert.ok(registry.requests.every((r) => r.headers.authorization === 'Bearer secret-token_1'));
});

test('credentials: the watch stream carries the token too', async (t) => {
  const { registry, client } = await setup(t, { token: 'watch-token', notifications: 'watch', heartbeatUrl: null });
  await client.register();
  const watch = await registry.waitForRequest((r) => r.path.startsWith('/v1/watch'));
  assert.equal(watch.headers.authorization, 'Bearer watch-token');
});
