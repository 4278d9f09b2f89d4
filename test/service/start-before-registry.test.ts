// startService before its registry: it listens and serves at once, registers once the registry
// comes up (the client's backoff, on a fake clock), and waitForRequired still waits for providers.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { startService, type StartServiceOptions } from '../../src/service/index.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { FakeRegistry } from '../helpers/fake-registry.js';
import { watchedLogger, type WatchedLogger } from '../helpers/watched-logger.js';

const LOG_A = 'http://127.0.0.1:4001';
/** The first wait is 500 ms ± 20 %. */
const FIRST_WAIT_MAX_MS = 600;

const isRegister = (r: { method: string; path: string }): boolean => r.method === 'POST' && r.path === '/v1/instances';

async function downRegistry(t: TestContext): Promise<FakeRegistry> {
  const registry = await FakeRegistry.start();
  t.after(() => registry.stop());
  await registry.stop();
  return registry;
}

function options(registry: FakeRegistry, clock: FakeClock, logger: WatchedLogger, extra: Partial<StartServiceOptions> = {}): StartServiceOptions {
  registry.now = () => clock.now();
  return { name: 'GradingService', host: '127.0.0.1', registryUrl: registry.url, handleSignals: false, clock, logger, handler: (_req, res) => void res.end('grades'), ...extra };
}

test('the registry is not up: startService resolves, serves, and its instance registers once the registry is up', async (t) => {
  const registry = await downRegistry(t);
  const clock = new FakeClock();
  const logger = watchedLogger();
  const service = await startService(options(registry, clock, logger));
  t.after(() => service.close());

  assert.equal(service.client.registered, false);
  assert.equal(service.client.waitingForRegistry, true);
  assert.equal(await (await fetch(`${service.url}/students`)).text(), 'grades', 'serves while waiting');
  const [waiting] = logger.messages('warn');
  assert.match(waiting ?? '', new RegExp(`GradingService at ${service.url} is not registered yet: cannot reach the Roster registry at ${registry.url}.*; waiting for the registry \\(${registry.url}\\): attempt 2 in \\d+ ms`));

  await registry.listen();
  await clock.tick(FIRST_WAIT_MAX_MS);
  await logger.untilLogged('info', `registered GradingService at ${service.url} with the registry at ${registry.url}`);
  assert.equal(service.client.registered, true);
  assert.equal(registry.count(isRegister), 1);

  await service.close();
  assert.equal(registry.count((r) => r.method === 'DELETE' && r.path === `/v1/instances/${service.client.id}`), 1);
});

test('waitForRequired still waits for providers, through the wait for the registry', async (t) => {
  const registry = await downRegistry(t);
  const clock = new FakeClock();
  const logger = watchedLogger();
  let started = false;
  const starting = startService(options(registry, clock, logger, { requires: ['LogService'], waitForRequired: { timeoutMs: 60_000 } })).then((service) => {
    started = true;
    t.after(() => service.close());
    return service;
  });
  await logger.untilLogged('warn', /waiting for the registry/);
  registry.addInstance('LogService', LOG_A);
  await registry.listen();
  await clock.tick(FIRST_WAIT_MAX_MS);
  const service = await starting;
  assert.equal(started, true);
  assert.equal(service.client.provider('LogService'), LOG_A);
});

test('a refusal that comes once the registry is up is logged; the service serves on, unregistered', async (t) => {
  const registry = await downRegistry(t);
  registry.intercept = (r) => (isRegister(r) ? { status: 401, body: { code: 'UNAUTHORIZED', message: 'this registry needs a token' } } : undefined);
  const clock = new FakeClock();
  const logger = watchedLogger();
  const service = await startService(options(registry, clock, logger));
  t.after(() => service.close());

  await registry.listen();
  await clock.tick(FIRST_WAIT_MAX_MS);
  await logger.untilLogged('error', `GradingService could not register at ${service.url}: this registry needs a token; it serves on, unregistered`);
  assert.equal(service.client.registered, false);
  assert.equal(clock.pending, 0, 'no retry for what waiting cannot fix');
  assert.equal(await (await fetch(`${service.url}/students`)).text(), 'grades');
});

test('close() while waiting for the registry: nothing registers, nothing is left listening or waiting', async (t) => {
  const registry = await downRegistry(t);
  const clock = new FakeClock();
  const logger = watchedLogger();
  const service = await startService(options(registry, clock, logger));

  await service.close();

  assert.equal(service.server.listening, false);
  assert.equal(clock.pending, 0);
  await registry.listen();
  await clock.tick(60_000);
  assert.equal(registry.count(isRegister), 0);
  assert.deepEqual(logger.messages('error'), [], 'a shutdown while waiting is no error');
});

test('registerRetry: false keeps the fail-fast start: REGISTRY_UNREACHABLE, nothing left listening', async (t) => {
  const registry = await downRegistry(t);
  const clock = new FakeClock();
  await assert.rejects(startService(options(registry, clock, watchedLogger(), { registerRetry: false })), { code: 'REGISTRY_UNREACHABLE' });
  assert.equal(clock.pending, 0);
});

test('waitForRequired gives up after its timeoutMs, saying that the registry never came', async (t) => {
  const registry = await downRegistry(t);
  const clock = new FakeClock();
  const logger = watchedLogger();
  const starting = startService(options(registry, clock, logger, { requires: ['LogService'], waitForRequired: { timeoutMs: 10_000 } }));
  await logger.untilLogged('warn', /waiting for the registry/);
  const failed = assert.rejects(starting, { code: 'NO_PROVIDER', message: `gave up after 10000 ms waiting for "LogService": this client is still waiting for the registry (${registry.url}) to register it` });
  await clock.tick(10_000);
  await failed;
  assert.equal(clock.pending, 0, 'the service stopped, and its waiting with it');
});
