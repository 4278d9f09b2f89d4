// The change log keeps the last N changes so that a watcher can catch up from its revision.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Registration } from '../../src/registry/catalog.js';
import { ChangeLog, type LoggedChange } from '../../src/registry/change-log.js';
import { Registry } from '../../src/registry/registry.js';
import { FakeClock } from '../helpers/fake-clock.js';

function setup(t: TestContext, capacity?: number) {
  const registry = new Registry({
    clock: new FakeClock(),
    channel: { send: async () => undefined, close: async () => undefined },
    probe: async () => undefined,
  });
  t.after(() => registry.close());
  const log = new ChangeLog(registry, { capacity });
  t.after(() => log.close());
  return { registry, log };
}

function reg(name: string): Registration {
  return { service: name, url: `http://${name}`, requires: [], updateUrl: null, heartbeatUrl: `http://${name}/heartbeat`, ttlMs: null, metadata: {}, protocol: 'v1', owner: null };
}

const summary = (changes: LoggedChange[] | null) => changes?.map((c) => `${c.revision} ${c.type} ${c.instance.service}`) ?? null;

test('since(R) returns the changes after R, oldest first, with the instance as it was then', async (t) => {
  const { registry, log } = setup(t);
  await registry.register(reg('log'));
  await registry.register(reg('grading'));
  registry.deregisterByUrl('http://log');

  assert.deepEqual(summary(log.since(0)), ['1 registered log', '2 registered grading', '3 deregistered log']);
  assert.deepEqual(summary(log.since(2)), ['3 deregistered log']);
  assert.deepEqual(log.since(3), []);
  // The registered view keeps revision 1 although the record moved on to 3.
  assert.equal(log.since(0)?.[0]?.instance.revision, 1);
});

test('since(R) is null when R fell out of the ring, or is ahead of the registry', async (t) => {
  const { registry, log } = setup(t, 2);
  for (const name of ['a', 'b', 'c', 'd']) await registry.register(reg(name));

  assert.equal(log.since(1), null);
  assert.deepEqual(summary(log.since(2)), ['3 registered c', '4 registered d']);
  assert.equal(log.since(5), null);
});

test('a log started on a busy registry knows nothing before its start', async (t) => {
  const { registry } = setup(t);
  await registry.register(reg('a'));
  const late = new ChangeLog(registry);
  t.after(() => late.close());
  await registry.register(reg('b'));

  assert.equal(late.since(0), null);
  assert.deepEqual(summary(late.since(1)), ['2 registered b']);
});

test('subscribers hear each change; unsubscribe and close stop them', async (t) => {
  const { registry, log } = setup(t);
  const heard: number[] = [];
  const stop = log.subscribe((change) => heard.push(change.revision));
  await registry.register(reg('a'));
  stop();
  await registry.register(reg('b'));
  log.subscribe((change) => heard.push(change.revision * 100));
  await log.close();
  await registry.register(reg('c'));

  assert.deepEqual(heard, [1]);
  assert.equal(registry.listenerCount('change'), 0);
});

test('close() is idempotent and leaves a closed log that refuses subscribers but still answers since()', async (t) => {
  const { registry, log } = setup(t);
  await registry.register(reg('a'));
  assert.equal(log.closed, false);
  await Promise.all([log.close(), log.close()]);
  await log.close();
  assert.equal(log.closed, true);
  assert.equal(registry.listenerCount('change'), 0);
  assert.throws(() => log.subscribe(() => {}), { code: 'REGISTRY_STOPPING' });
  assert.deepEqual(summary(log.since(0)), ['1 registered a']);
});
