// Self-preservation under fake time: the registry holds removals when many instances turn
// critical at once, and returns to the normal rules as they recover or after a bound.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Patch } from '../../../src/protocol/course.js';
import { Registry } from '../../../src/registry/registry.js';
import type { Registration } from '../../../src/registry/catalog.js';
import type { RegistryOptionsInput } from '../../../src/registry/options.js';
import { RosterError } from '../../../src/protocol/errors.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import type { Logger } from '../../../src/shared/logger.js';

const HEALTH = { intervalMs: 3000, jitter: 0, timeoutMs: 1000, attempts: 1, retryDelayMs: 0, graceMs: 60_000, defaultTtlMs: 15_000 };
const API = ['api-1', 'api-2', 'api-3', 'api-4'];

function setup(t: TestContext, options: RegistryOptionsInput = {}) {
  const clock = new FakeClock();
  const received: Patch[] = [];
  const down = new Set<string>();
  const logger = recorder();
  const registry = new Registry({
    clock,
    logger,
    channel: {
      async send(target, patch) {
        if (target === 'http://app/services') received.push(patch);
      },
      close: async () => undefined,
    },
    probe: async (url) => {
      if (down.has(new URL(url).host)) throw new Error('connection refused');
    },
    options: { health: HEALTH, initialDeliveryWaitMs: 1000, ...options },
    // Every round of every instance at the same moment: a wave lands within one tick.
    random: () => 0,
  });
  t.after(() => registry.close());
  return { clock, registry, down, received, logger };
}

/** Every line logged, as pino takes them: fields first, then the message. */
function recorder(): Logger & { lines: Array<{ level: string; msg: string }> } {
  const lines: Array<{ level: string; msg: string }> = [];
  const at = (level: string) => (obj: object | string, msg?: string) => void lines.push({ level, msg: typeof obj === 'string' ? obj : (msg ?? '') });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function reg(host: string, service: string, requires: string[] = []): Registration {
  return {
    service,
    url: `http://${host}`,
    requires,
    updateUrl: `http://${host}/services`,
    heartbeatUrl: `http://${host}/heartbeat`,
    ttlMs: null,
    metadata: {},
    protocol: 'v1',
    owner: null,
  };
}

/** Four instances of `api` and `app`, which requires it; the first round has passed. */
async function fourApis(t: TestContext, options: RegistryOptionsInput = {}) {
  const context = setup(t, options);
  for (const host of API) await context.registry.register(reg(host, 'api'));
  await context.registry.register(reg('app', 'app', ['api']));
  await context.clock.tick(1);
  context.received.length = 0;
  return context;
}

/** What `app` sees of `api` after applying every patch it received, in order. */
function viewOf(patches: readonly Patch[]): string[] {
  const view = new Set(API.map((host) => `http://${host}`));
  for (const patch of patches) {
    for (const { URL } of patch.Removed) view.delete(URL);
    for (const { URL } of patch.Added) view.add(URL);
  }
  return [...view].sort();
}

const removed = (patches: readonly Patch[]) => patches.flatMap((patch) => patch.Removed.map((e) => e.URL));
const added = (patches: readonly Patch[]) => patches.flatMap((patch) => patch.Added.map((e) => e.URL));
const criticalOf = (registry: Registry) => registry.service('api').critical;

test('one instance failing on its own is removed at once, as ever', async (t) => {
  const { clock, registry, down, received } = await fourApis(t);
  down.add('api-1');
  await clock.tick(3000);
  assert.deepEqual(removed(received), ['http://api-1']);
  assert.equal(registry.selfPreservation().active, false);
  await clock.tick(60_000);
  assert.equal(registry.service('api').instances.length, 3, 'it expires after its grace period');
});

test('3 of 4 instances failing within the window are held: dependents keep them, views show them critical', async (t) => {
  const { clock, registry, down, received, logger } = await fourApis(t);
  down.add('api-1').add('api-2').add('api-3');
  await clock.tick(3000);
  const state = registry.selfPreservation();
  assert.equal(state.active, true);
  assert.equal(state.since, clock.now() - 1, 'since the round that failed (the clock moved on by 1 ms since)');
  assert.match(state.reason ?? '', /3 of 4 instances of api turned critical within 3000 ms/);
  assert.equal(state.activations, 1);
  assert.equal(criticalOf(registry), 3, 'views show the held instances as critical');
  assert.ok(!removed(received).includes('http://api-3'), 'the instance that crossed the threshold is never told Removed');
  assert.deepEqual(viewOf(received), API.map((host) => `http://${host}`), 'those told Removed before the threshold are added back');
  assert.ok(logger.lines.some((line) => line.level === 'warn' && /self-preservation on/.test(line.msg)));

  // Probing goes on and nothing expires, well past the grace period.
  const before = received.length;
  await clock.tick(120_000);
  assert.equal(registry.service('api').instances.length, 4);
  assert.equal(received.length, before, 'no Removed while held');
  assert.equal(registry.selfPreservation().active, true);
});

test('when the held instances recover, the normal rules return and dependents hear nothing', async (t) => {
  const { clock, registry, down, received, logger } = await fourApis(t);
  down.add('api-1').add('api-2').add('api-3');
  await clock.tick(3000);
  const before = received.length;
  down.clear();
  await clock.tick(3000);
  assert.equal(registry.selfPreservation().active, false);
  assert.equal(criticalOf(registry), 0);
  assert.equal(received.length, before, 'they never left the view, so nobody is told they came back');
  assert.ok(logger.lines.some((line) => line.level === 'warn' && /self-preservation off/.test(line.msg)));

  // Normal rules: one failing alone is removed at once.
  down.add('api-4');
  await clock.tick(3000);
  assert.deepEqual(removed(received.slice(before)), ['http://api-4']);
  assert.equal(registry.selfPreservation().active, false);
});

test('hysteresis: it ends only once few enough are held, and a window later if still so', async (t) => {
  const { clock, registry, down, received } = await fourApis(t);
  down.add('api-1').add('api-2').add('api-3');
  await clock.tick(3000);
  const before = received.length;

  down.delete('api-1');
  await clock.tick(3000);
  assert.equal(registry.selfPreservation().active, true, '2 of 4 still held is more than exitShare (0.25)');

  down.delete('api-2');
  await clock.tick(3000);
  assert.equal(registry.selfPreservation().active, true, '1 of 4 held: it waits one window for the last one');
  assert.equal(received.length, before);

  await clock.tick(3000);
  assert.equal(registry.selfPreservation().active, false);
  assert.deepEqual(removed(received.slice(before)), ['http://api-3'], 'the one still critical is removed then');
  assert.equal(registry.selfPreservation().activations, 1, 'the wave that started it does not start it again');

  await clock.tick(60_000);
  assert.deepEqual(
    registry.service('api').instances.map((i) => i.url).sort(),
    ['http://api-1', 'http://api-2', 'http://api-4'],
    'and expires in turn',
  );
  assert.deepEqual(removed(received.slice(before)), ['http://api-3'], 'without a second Removed');
});

test('maxHoldMs bounds it: the instances still critical are removed, then expire', async (t) => {
  const { clock, registry, down, received } = await fourApis(t, { selfPreservation: { maxHoldMs: 90_000 } });
  down.add('api-1').add('api-2').add('api-3');
  await clock.tick(3000);
  const before = received.length;
  const endsAt = (registry.selfPreservation().since ?? 0) + 90_000;
  await clock.tick(endsAt - clock.now() - 1);
  assert.equal(registry.selfPreservation().active, true);
  assert.equal(registry.service('api').instances.length, 4);
  await clock.tick(1);
  assert.equal(registry.selfPreservation().active, false);
  assert.deepEqual(removed(received.slice(before)).sort(), ['http://api-1', 'http://api-2', 'http://api-3']);
  assert.deepEqual(viewOf(received), ['http://api-4']);
  await clock.tick(HEALTH.intervalMs);
  assert.deepEqual(registry.service('api').instances.map((i) => i.url), ['http://api-4'], 'past their grace period, they expire at the next look');
});

test('failures slower than the window are each removed as ever: the window slides', async (t) => {
  const { clock, registry, down, received } = await fourApis(t);
  for (const host of ['api-1', 'api-2', 'api-3']) {
    down.add(host);
    await clock.tick(3000);
    assert.equal(registry.selfPreservation().active, false, `${host} alone in the last 3000 ms`);
  }
  assert.deepEqual(removed(received), ['http://api-1', 'http://api-2', 'http://api-3']);
});

test('a share of all instances starts it too, across services', async (t) => {
  const { clock, registry, down, received } = setup(t);
  for (const name of ['a', 'b', 'c', 'd']) await registry.register(reg(name, name));
  await registry.register(reg('app', 'app', ['a', 'b', 'c']));
  await clock.tick(1);
  received.length = 0;
  down.add('a').add('b').add('c');
  await clock.tick(3000);
  assert.equal(registry.selfPreservation().active, true);
  assert.match(registry.selfPreservation().reason ?? '', /3 of 5 instances turned critical/);
  const view = new Set(['http://a', 'http://b', 'http://c']);
  for (const patch of received) {
    for (const { URL } of patch.Removed) view.delete(URL);
    for (const { URL } of patch.Added) view.add(URL);
  }
  assert.equal(view.size, 3, 'app keeps its providers');
});

test('an instance deregistered while held is told Removed', async (t) => {
  const { clock, registry, down, received } = await fourApis(t);
  down.add('api-1').add('api-2').add('api-3');
  await clock.tick(3000);
  const before = received.length;
  registry.deregisterByUrl('http://api-3');
  await clock.tick(0); // the patch goes out
  assert.deepEqual(removed(received.slice(before)), ['http://api-3']);
});

test('disabled, every critical instance is removed as today', async (t) => {
  const { clock, registry, down, received } = await fourApis(t, { selfPreservation: { enabled: false } });
  down.add('api-1').add('api-2').add('api-3');
  await clock.tick(3000);
  assert.equal(registry.selfPreservation().active, false);
  assert.deepEqual(removed(received).sort(), ['http://api-1', 'http://api-2', 'http://api-3']);
  assert.deepEqual(added(received), []);
});

test('a service below minInstances does not start it on its own', async (t) => {
  const { clock, registry, down } = setup(t);
  for (const host of ['x-1', 'x-2']) await registry.register(reg(host, 'x'));
  for (const host of ['y-1', 'y-2', 'y-3']) await registry.register(reg(host, 'y'));
  await clock.tick(1);
  down.add('x-1').add('x-2');
  await clock.tick(3000);
  assert.equal(registry.selfPreservation().active, false, '2 of 2 is below minInstances (3); 2 of 5 is not more than half');
});

test('options are checked: exitShare must stay below the shares that start it', () => {
  assert.throws(
    () => new Registry({ channel: { send: async () => undefined, close: async () => undefined }, probe: async () => undefined, options: { selfPreservation: { exitShare: 0.5 } } }),
    (error: unknown) => error instanceof RosterError && error.code === 'INVALID_OPTION' && /selfPreservation\.exitShare/.test(error.message),
  );
  assert.throws(
    () => new Registry({ channel: { send: async () => undefined, close: async () => undefined }, probe: async () => undefined, options: { selfPreservation: { windowMs: 0 } } }),
    /selfPreservation\.windowMs/,
  );
});
