// Course protocol: the course's registry has no look-up and no renewal, only its heartbeat probes.
// A client that hears no probe for three times the longest gap it has seen between probes (at
// least forgottenAfterMs) takes it that the registry forgot it (a restart) and registers again,
// never deleting first: a wrong guess leaves a duplicate entry, which deregister() takes out, never
// a service that is not registered. Against the course registry stand-in
// (test/helpers/course-registry.ts); the client's time is a fake clock.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryClient, DEFAULT_FORGOTTEN_AFTER_MS, type RegistryClientOptions } from '../../src/client/index.js';
import { CourseRegistry } from '../helpers/course-registry.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { listenLate } from '../helpers/fake-registry.js';
import { watchedLogger } from '../helpers/watched-logger.js';

/** A course registry, restarted (empty) on the same port by `restart()`. */
async function courseRegistry(t: TestContext): Promise<{ current: () => CourseRegistry; restart: () => Promise<CourseRegistry>; stop: () => Promise<void> }> {
  let registry = await CourseRegistry.start();
  const port = Number(new URL(registry.url).port);
  t.after(() => registry.close());
  return {
    current: () => registry,
    stop: () => registry.close(),
    restart: async () => {
      await registry.close();
      registry = await CourseRegistry.start({ port });
      return registry;
    },
  };
}

async function courseClient(t: TestContext, registryUrl: string, clock: FakeClock, options: Partial<RegistryClientOptions> & Pick<RegistryClientOptions, 'service'>) {
  const server = await listenLate();
  t.after(() => server.close());
  const logger = watchedLogger();
  const client = new RegistryClient({ url: server.url, registryUrl, protocol: 'course', clock, logger, ...options });
  t.after(() => client.close());
  server.use(client.requestListener());
  return { client, logger };
}

const entriesOf = (registry: CourseRegistry, url: string): number => registry.registrations.filter((r) => r.ServiceURL === url).length;

test(`probes keep a course client quiet; with none for forgottenAfterMs (default ${DEFAULT_FORGOTTEN_AFTER_MS} ms) after a restart, it registers again, once`, async (t) => {
  const registries = await courseRegistry(t);
  const clock = new FakeClock();
  const { client, logger } = await courseClient(t, registries.current().url, clock, { service: 'LogService' });
  await client.register();
  assert.equal(client.options.forgottenAfterMs, DEFAULT_FORGOTTEN_AFTER_MS);

  // A minute of probes every 9 s (the course probes each of three instances every 3·3 s): nothing to do.
  for (let i = 0; i < 7; i++) {
    await clock.tick(9_000);
    const [probe] = await registries.current().checkHeartbeats();
    assert.equal(probe?.alive, true);
  }
  assert.equal(registries.current().requests('POST').length, 1);
  assert.equal(registries.current().requests('DELETE').length, 0);

  // The registry restarts, empty: no probe comes any more.
  const restarted = await registries.restart();
  await clock.tick(DEFAULT_FORGOTTEN_AFTER_MS - 6_000);
  assert.equal(restarted.received.length, 0, 'still within forgottenAfterMs (a check round is at most 5.5 s late)');

  await clock.tick(12_000);
  await logger.untilLogged('info', `registered LogService at ${client.options.url} again`);
  // Registered again, nothing deleted on a guess.
  assert.deepEqual(restarted.received.map((r) => `${r.method} ${r.status}`), ['POST 200']);
  assert.equal(entriesOf(restarted, client.options.url), 1);
  assert.ok(logger.messages('warn').some((line) => line.includes(`has not probed ${client.options.url}/heartbeat for ${DEFAULT_FORGOTTEN_AFTER_MS} ms`)), logger.lines.join('\n'));

  // Probed again: quiet again.
  await clock.tick(9_000);
  await restarted.checkHeartbeats();
  await clock.tick(20_000);
  await restarted.checkHeartbeats();
  await clock.tick(20_000);
  assert.equal(restarted.requests('POST').length, 1);
});

test('a regular prober slower than forgottenAfterMs (33 s: 11 course instances) never makes the client register again', async (t) => {
  const registries = await courseRegistry(t);
  const registry = registries.current();
  const clock = new FakeClock();
  const { client, logger } = await courseClient(t, registry.url, clock, { service: 'LogService' });
  await client.register();

  // The course probes each of 11 instances every 3·11 s: half an hour of it, the first probe a
  // whole period after registering.
  for (let i = 0; i < 55; i++) {
    await clock.tick(33_000);
    const [probe] = await registry.checkHeartbeats();
    assert.equal(probe?.alive, true);
  }
  await registry.settled();
  assert.deepEqual(registry.received.map((r) => r.method), ['POST'], logger.lines.join('\n'));
  assert.equal(entriesOf(registry, client.options.url), 1);
  assert.ok(!logger.lines.some((line) => line.includes('has not probed')), logger.lines.join('\n'));
});

test('a 33 s prober that stops: the client registers again after three of its gaps, without deleting first', async (t) => {
  const registries = await courseRegistry(t);
  const clock = new FakeClock();
  const { client, logger } = await courseClient(t, registries.current().url, clock, { service: 'LogService' });
  await client.register();
  for (let i = 0; i < 3; i++) {
    await clock.tick(33_000);
    await registries.current().checkHeartbeats();
  }

  const restarted = await registries.restart();
  await clock.tick(3 * 33_000 - 6_000);
  assert.equal(restarted.received.length, 0, 'still within three gaps of 33 s (a check round is at most 5 s late)');
  await clock.tick(12_000);
  await logger.untilLogged('info', `registered LogService at ${client.options.url} again`);
  assert.deepEqual(restarted.received.map((r) => `${r.method} ${r.status}`), ['POST 200']);
  assert.equal(entriesOf(restarted, client.options.url), 1);
  assert.ok(logger.messages('warn').some((line) => line.includes(`has not probed ${client.options.url}/heartbeat for 99000 ms`)), logger.lines.join('\n'));
});

test('a registry that kept the entry but stopped probing: registered again, never removed; the waits double; deregister() takes out every entry', async (t) => {
  const registries = await courseRegistry(t);
  const registry = registries.current();
  const clock = new FakeClock();
  const { client, logger } = await courseClient(t, registry.url, clock, { service: 'LogService', forgottenAfterMs: 9_000, checkIntervalMs: 1_000 });
  await client.register();
  await clock.tick(3_000);
  await registry.checkHeartbeats();

  // No probe for 9 s (the minimum; 3 × 3 s seen): registered again, the old entry left alone.
  // (Checks come every 1 s plus up to 10 % jitter.)
  await clock.tick(10_500);
  await logger.untilLogged('info', `registered LogService at ${client.options.url} again`);
  assert.deepEqual(registry.received.map((r) => r.method), ['POST', 'POST']);
  assert.equal(entriesOf(registry, client.options.url), 2);

  // Still no probe: the next try waits twice as long (18 s), not another 9 s.
  await clock.tick(14_000);
  assert.equal(registry.requests('POST').length, 2);
  await clock.tick(6_000);
  await logger.untilLogged('warn', /has not probed .* for 18000 ms/);

  // deregister() waits for that registration, then takes out every entry it may have doubled.
  await client.deregister();
  assert.equal(registry.requests('POST').length, 3);
  assert.deepEqual(registry.requests('DELETE').map((r) => r.status), [200, 200, 200]);
  assert.equal(entriesOf(registry, client.options.url), 0);
});

test('a dependent in course mode is told of its provider again after the course registry restarts', async (t) => {
  const registries = await courseRegistry(t);
  const clock = new FakeClock();
  const fast = { forgottenAfterMs: 9_000, checkIntervalMs: 1_000 };
  const { client: log, logger: logLogger } = await courseClient(t, registries.current().url, clock, { service: 'LogService', ...fast });
  const { client: grading, logger: gradingLogger } = await courseClient(t, registries.current().url, clock, { service: 'GradingService', requires: ['LogService'], ...fast });
  await log.register();
  await grading.register();
  assert.deepEqual(grading.providers('LogService'), [log.options.url]);
  // Probed every 3 s: 9 s without a probe (the minimum) means forgotten.
  await clock.tick(3_000);
  await registries.current().checkHeartbeats();

  const restarted = await registries.restart();
  await clock.tick(11_000);
  await logLogger.untilLogged('info', `registered LogService at ${log.options.url} again`);
  await gradingLogger.untilLogged('info', `registered GradingService at ${grading.options.url} again`);
  await restarted.settled();
  assert.deepEqual(restarted.registrations.map((r) => r.ServiceName).sort(), ['GradingService', 'LogService']);
  // Whichever came back first, the course's registry told the grading service where the log service is
  // (in its registration's patch, or in an Added patch, or both when the two registrations crossed).
  const told = restarted.patches.filter((p) => p.receiver === grading.options.url && (p.patch.Added ?? []).some((e) => e.URL === log.options.url));
  assert.ok(told.length >= 1, JSON.stringify(restarted.patches));
  assert.deepEqual(grading.providers('LogService'), [log.options.url]);
});

test('a course registry that is down when the client notices: one warning, and it registers once the registry is back', async (t) => {
  const registries = await courseRegistry(t);
  const clock = new FakeClock();
  const { client, logger } = await courseClient(t, registries.current().url, clock, { service: 'LogService', forgottenAfterMs: 9_000, checkIntervalMs: 1_000 });
  await client.register();
  await clock.tick(3_000);
  await registries.current().checkHeartbeats();
  await registries.stop();

  const warned = new Promise<void>((resolve) => client.on('warning', (error) => void ((error as { code?: string }).code === 'REGISTRY_UNREACHABLE' && resolve())));
  await clock.tick(11_000);
  await warned;
  await clock.tick(5_000);
  assert.equal(logger.messages('warn').filter((line) => line.includes('cannot reach')).length, 1, logger.lines.join('\n'));

  const back = await registries.restart();
  await clock.tick(1_500);
  await logger.untilLogged('info', `registered LogService at ${client.options.url} again`);
  assert.equal(entriesOf(back, client.options.url), 1);
  assert.ok(logger.messages('info').includes(`the registry is reachable again at ${back.url}`));
});
