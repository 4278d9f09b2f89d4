// The maintenance book inside the registry, under fake time: a drain cut by a restart goes on for
// the time it had left, health changes of an instance in maintenance reach no dependent, and
// rows written before maintenance existed load without it.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Patch } from '../../src/protocol/course.js';
import type { Registration } from '../../src/registry/catalog.js';
import type { Prober } from '../../src/registry/health/prober.js';
import { Registry } from '../../src/registry/registry.js';
import { MemoryStore } from '../../src/registry/store/memory-store.js';
import { parseInstanceRow } from '../../src/registry/store/rows.js';
import { FakeClock } from '../helpers/fake-clock.js';

const HEALTH = { intervalMs: 1000, jitter: 0, timeoutMs: 500, attempts: 1, retryDelayMs: 0, graceMs: 600_000, defaultTtlMs: 600_000 };

function registration(service: string, port: number, requires: string[] = []): Registration {
  const url = `http://127.0.0.1:${port}`;
  return { service, url, requires, updateUrl: `${url}/services`, heartbeatUrl: `${url}/heartbeat`, ttlMs: null, metadata: {}, protocol: 'v1', owner: 'ops' };
}

/** A registry on `store` whose probes answer as `probe` says, recording every patch sent. */
function registry(t: TestContext, store: MemoryStore, clock: FakeClock, probe: Prober = async () => undefined) {
  const sent: Array<{ target: string; patch: Patch }> = [];
  const instance = new Registry({
    channel: { send: async (target, patch) => void sent.push({ target, patch }), close: async () => undefined },
    probe,
    clock,
    store,
    options: { health: HEALTH, initialDeliveryWaitMs: 0 },
  });
  t.after(() => instance.close(0));
  const removals = () => sent.filter(({ patch }) => patch.Removed.some((entry) => entry.Name === 'Log')).length;
  const additions = () => sent.filter(({ patch }) => patch.Added.some((entry) => entry.Name === 'Log')).length;
  return { registry: instance, sent, removals, additions };
}

test('a drain cut by a restart goes on for the time it had left', async (t) => {
  const clock = new FakeClock();
  const store = new MemoryStore();
  const first = registry(t, store, clock);
  const log = await first.registry.register(registration('Log', 4000));
  await first.registry.register(registration('App', 5000, ['Log']));
  first.registry.maintenance.startInstance(log.instance.id, { reason: 'deploy', drainMs: 10_000 });
  await clock.tick(4_000);
  await first.registry.close(0);
  assert.equal(first.removals(), 0);

  const second = registry(t, store, clock);
  await second.registry.restore();
  assert.equal(second.registry.instance(log.instance.id).maintenance?.draining, true);
  await clock.tick(5_999);
  assert.equal(second.removals(), 0, 'still draining');
  await clock.tick(1);
  assert.equal(second.removals(), 1);
  assert.equal(second.registry.instance(log.instance.id).maintenance?.draining, false);
});

test('an instance in maintenance turning critical and passing again reaches no dependent; ending it adds it back only if passing', async (t) => {
  const clock = new FakeClock();
  let failing = false;
  const { registry: reg, removals, additions } = registry(t, new MemoryStore(), clock, async () => {
    if (failing) throw new Error('connection refused');
  });
  const log = await reg.register(registration('Log', 4000));
  await reg.register(registration('App', 5000, ['Log']));
  await clock.tick(0);
  const addedBefore = additions();
  reg.maintenance.startInstance(log.instance.id, { reason: 'disk swap' });
  await clock.tick(0);
  assert.equal(removals(), 1);

  failing = true;
  await clock.tick(3_000);
  assert.equal(reg.instance(log.instance.id).health, 'critical');
  reg.maintenance.endInstance(log.instance.id);
  await clock.tick(0);
  assert.deepEqual([removals(), additions()], [1, addedBefore], 'critical and out of maintenance: nothing to add');

  failing = false;
  await clock.tick(3_000);
  assert.equal(additions(), addedBefore + 1, 'passing again: added back');
});

test('the owner rule: another credential gets NOT_OWNER, an admin may', async (t) => {
  const { registry: reg } = registry(t, new MemoryStore(), new FakeClock());
  const log = await reg.register(registration('Log', 4000));
  assert.throws(() => reg.maintenance.startInstance(log.instance.id, { reason: 'x' }, { name: 'other', admin: false }), { code: 'NOT_OWNER' });
  assert.equal(reg.maintenance.startInstance(log.instance.id, { reason: 'x' }, { name: 'root', admin: true }).maintenance?.by, 'root');
});

test('an instance row written before maintenance existed loads with maintenance null', () => {
  const row = {
    id: 'abc', service: 'Log', url: 'http://127.0.0.1:4000', requires: [], updateUrl: null, heartbeatUrl: null, ttlMs: 60_000,
    metadata: {}, health: 'passing', protocol: 'v1', owner: null, registeredAt: 1, revision: 1, lastCheckAt: null, lastCheckMs: null,
    lastError: null, criticalSince: null,
  };
  assert.equal(parseInstanceRow(row, { store: 'test', key: 'instances/abc' }).maintenance, null);
});
