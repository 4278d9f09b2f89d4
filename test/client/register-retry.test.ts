// register() when the registry is not there yet: it waits, with backoff on the injected clock,
// says what it waits for, and registers once the registry comes up; what waiting cannot fix
// (a refused token, an invalid registration) fails at once; registerRetry: false fails fast.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { RegistryClient, type RegistryClientOptions, type WaitingEvent } from '../../src/client/index.js';
import { retryDelay } from '../../src/client/register-retry.js';
import { RosterError } from '../../src/protocol/errors.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { FakeRegistry, listenLate, recordingLogger } from '../helpers/fake-registry.js';
import { makePki } from '../helpers/pki.js';

const LOG_A = 'http://127.0.0.1:4001';

const isRegister = (r: { method: string; path: string }): boolean => r.method === 'POST' && r.path === '/v1/instances';

/** A registry that listened once and is down now: its port is known, nothing answers there. */
async function downRegistry(t: TestContext): Promise<FakeRegistry> {
  const registry = await FakeRegistry.start();
  t.after(() => registry.stop());
  await registry.stop();
  return registry;
}

async function setup(t: TestContext, registry: FakeRegistry, options: Partial<RegistryClientOptions> = {}) {
  const server = await listenLate();
  t.after(() => server.close());
  const clock = new FakeClock();
  registry.now = () => clock.now();
  const logger = recordingLogger();
  const client = new RegistryClient({ service: 'Portal', url: server.url, requires: ['LogService'], registryUrl: registry.url, clock, logger, ...options });
  t.after(() => client.close());
  server.use(client.requestListener());
  return { clock, logger, client };
}

function nextWait(client: RegistryClient): Promise<WaitingEvent> {
  return once(client, 'waiting').then(([event]) => event as WaitingEvent);
}

test('retryDelay doubles from initialDelayMs, is jittered by at most 20 %, and never passes maxDelayMs', () => {
  const policy = { initialDelayMs: 500, maxDelayMs: 30_000 };
  const middle = (): number => 0.5;
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8].map((attempt) => retryDelay(policy, attempt, middle)), [500, 1000, 2000, 4000, 8000, 16000, 30_000, 30_000]);
  assert.equal(retryDelay(policy, 1, () => 0), 400);
  assert.equal(retryDelay(policy, 1, () => 1), 600);
  assert.equal(retryDelay(policy, 7, () => 1), 30_000, 'jitter never goes past the cap');
  assert.equal(retryDelay(policy, 7, () => 0), 24_000, 'at the cap, jitter still spreads clients apart');
  assert.equal(retryDelay(policy, 1_000, middle), 30_000, 'a long outage does not overflow');
});

test('registry not up yet: register() waits, says for what, and registers once the registry comes up', async (t) => {
  const registry = await downRegistry(t);
  const { clock, logger, client } = await setup(t, registry);
  const waiting = nextWait(client);
  let settled = false;
  const registered = client.register().finally(() => (settled = true));

  const first = await waiting;
  assert.equal(first.attempt, 1);
  assert.equal(first.error.code, 'REGISTRY_UNREACHABLE');
  assert.deepEqual(first.registryUrls, [registry.url]);
  assert.ok(first.retryInMs >= 400 && first.retryInMs <= 600, `first wait about 500 ms, was ${first.retryInMs}`);
  const [warning] = logger.messages('warn');
  assert.ok(warning?.includes(`waiting for the registry (${registry.url}): attempt 2 in ${first.retryInMs} ms`), warning);
  assert.ok(warning?.includes(`Portal at ${client.options.url} is not registered yet`), warning);
  assert.equal(client.registered, false);
  assert.equal(client.waitingForRegistry, true);
  assert.throws(() => client.provider('LogService'), /waiting for the registry .* to register it/);

  // Nothing happens before the wait is over, even once the registry is up.
  registry.addInstance('LogService', LOG_A);
  await registry.listen();
  await clock.tick(first.retryInMs - 1);
  assert.equal(settled, false);
  assert.equal(registry.count(isRegister), 0);

  await clock.tick(1);
  await registered;
  assert.equal(client.registered, true);
  assert.equal(client.waitingForRegistry, false);
  assert.equal(registry.count(isRegister), 1);
  assert.deepEqual(client.providers('LogService'), [LOG_A]);
});

test('the waits double up to registerRetry.maxDelayMs, on the clock; one warning, then info lines', async (t) => {
  const registry = await downRegistry(t);
  const { clock, logger, client } = await setup(t, registry, { registerRetry: { initialDelayMs: 100, maxDelayMs: 400 } });
  const registered = client.register();
  const waits: number[] = [];
  for (let attempt = 1; attempt <= 5; attempt++) {
    const event = await (attempt === 1 ? nextWait(client) : waitingAfter(clock, client, waits.at(-1) as number));
    assert.equal(event.attempt, attempt);
    waits.push(event.retryInMs);
  }
  const expected = [100, 200, 400, 400, 400];
  waits.forEach((ms, i) => {
    const base = expected[i] as number;
    assert.ok(ms >= base * 0.8 && ms <= Math.min(base * 1.2, 400), `wait ${i + 1}: ${ms} ms, expected ${base} ± 20 %, at most 400`);
  });
  assert.equal(logger.messages('warn').length, 1, 'one warning while the registry stays away');
  assert.equal(logger.messages('info').filter((line) => line.includes('waiting for the registry')).length, 4);

  await registry.listen();
  await clock.tick(waits.at(-1) as number);
  await registered;
  assert.equal(registry.count(isRegister), 1);
});

/** Moves the clock past the current wait and resolves with the next 'waiting' event. */
async function waitingAfter(clock: FakeClock, client: RegistryClient, ms: number): Promise<WaitingEvent> {
  const next = nextWait(client);
  await clock.tick(ms);
  return next;
}

test('a registry that says it is not ready yet (503 REGISTRY_STOPPING, NO_LEADER) is waited for too', async (t) => {
  const registry = await FakeRegistry.start();
  t.after(() => registry.stop());
  const { clock, client } = await setup(t, registry);
  let refusals = 2;
  registry.intercept = (r) => {
    if (!isRegister(r) || refusals-- <= 0) return undefined;
    return { status: 503, body: { code: refusals === 1 ? 'REGISTRY_STOPPING' : 'NO_LEADER', message: 'not now' } };
  };
  const registered = client.register();
  const first = await nextWait(client);
  assert.equal(first.error.code, 'REGISTRY_STOPPING');
  const second = await waitingAfter(clock, client, first.retryInMs);
  assert.equal(second.error.code, 'NO_LEADER');
  await clock.tick(second.retryInMs);
  await registered;
  assert.equal(registry.count(isRegister), 3);
});

for (const [status, code] of [[401, 'UNAUTHORIZED'], [403, 'FORBIDDEN'], [422, 'URL_NOT_ALLOWED'], [400, 'INVALID_REQUEST']] as const) {
  test(`what waiting cannot fix fails at once: ${status} ${code}, with the registry's message`, async (t) => {
    const registry = await FakeRegistry.start();
    t.after(() => registry.stop());
    const { clock, client } = await setup(t, registry);
    registry.intercept = (r) => (isRegister(r) ? { status, body: { code, message: `refused: ${code}` } } : undefined);
    client.on('waiting', () => assert.fail('no wait for an error that waiting cannot fix'));
    await assert.rejects(client.register(), { name: 'RosterError', code, message: `refused: ${code}` });
    assert.equal(registry.count(isRegister), 1);
    assert.equal(clock.pending, 0, 'no retry timer left behind');
  });
}

test('registerRetry: false fails fast with REGISTRY_UNREACHABLE, as before', async (t) => {
  const registry = await downRegistry(t);
  const { clock, client } = await setup(t, registry, { registerRetry: false });
  await assert.rejects(client.register(), (error: unknown) => {
    assert.ok(error instanceof RosterError);
    assert.equal(error.code, 'REGISTRY_UNREACHABLE');
    assert.ok(error.message.includes(registry.url), error.message);
    return true;
  });
  assert.equal(clock.pending, 0);
  assert.equal(client.options.registerRetry, null);
});

for (const stop of ['deregister', 'close'] as const) {
  test(`${stop}() while waiting for the registry stops the waiting: register() rejects with CLIENT_CLOSED, no timer is left`, async (t) => {
    const registry = await downRegistry(t);
    const { clock, client } = await setup(t, registry);
    const registered = client.register();
    await nextWait(client);
    assert.equal(clock.pending, 1, 'the wait is one timer on the clock');

    await client[stop]();

    await assert.rejects(registered, { code: 'CLIENT_CLOSED', message: `register(): ${stop}() was called while waiting for the registry; nothing is registered` });
    assert.equal(clock.pending, 0);
    await registry.listen();
    await clock.tick(60_000);
    assert.equal(registry.count(isRegister), 0, 'nothing registers later');
  });
}

test('registerRetry is validated: an object of durations, maxDelayMs at least initialDelayMs', () => {
  const base = { service: 'Portal', url: 'http://127.0.0.1:5000', registryUrl: 'http://127.0.0.1:3000' };
  assert.deepEqual(new RegistryClient(base).options.registerRetry, { initialDelayMs: 500, maxDelayMs: 30_000 });
  assert.deepEqual(new RegistryClient({ ...base, registerRetry: { maxDelayMs: 5_000 } }).options.registerRetry, { initialDelayMs: 500, maxDelayMs: 5_000 });
  assert.throws(() => new RegistryClient({ ...base, registerRetry: { initialDelayMs: 0 } }), { code: 'INVALID_OPTION', message: /registerRetry\.initialDelayMs/ });
  assert.throws(() => new RegistryClient({ ...base, registerRetry: { initialDelayMs: 2_000, maxDelayMs: 1_000 } }), { code: 'INVALID_OPTION', message: /registerRetry\.maxDelayMs/ });
  assert.throws(() => new RegistryClient({ ...base, registerRetry: 'yes' as never }), { code: 'INVALID_OPTION', message: /registerRetry/ });
});

test('a registry whose certificate the client does not trust fails at once: waiting would not change it', async (t) => {
  const pki = makePki(t);
  const server = createHttpsServer({ cert: readFileSync(pki.cert), key: readFileSync(pki.key) }, (_req, res) => void res.end('{}'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const registryUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clock = new FakeClock();
  // No tls.ca: the test CA is not trusted.
  const client = new RegistryClient({ service: 'Portal', url: 'http://127.0.0.1:5000', registryUrl, clock, logger: recordingLogger() });
  t.after(() => client.close());
  client.on('waiting', () => assert.fail('no wait for a certificate that is not trusted'));

  await assert.rejects(client.register(), { code: 'REGISTRY_UNREACHABLE', message: /UNABLE_TO_VERIFY_LEAF_SIGNATURE/ });
  assert.equal(clock.pending, 0);
});
