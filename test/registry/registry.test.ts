// The registry's core with fake time: who hears what, when, and in which order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Patch } from '../../src/protocol/course.js';
import { Registry } from '../../src/registry/registry.js';
import type { Registration } from '../../src/registry/catalog.js';
import { FakeClock } from '../helpers/fake-clock.js';

const HEALTH = { intervalMs: 3000, jitter: 0, timeoutMs: 1000, attempts: 3, retryDelayMs: 1000, graceMs: 60_000, defaultTtlMs: 15_000 };

function setup(t: import('node:test').TestContext) {
  const clock = new FakeClock();
  const received = new Map<string, Patch[]>();
  const down = new Set<string>();
  const registry = new Registry({
    clock,
    channel: {
      async send(target, patch) {
        received.set(target, [...(received.get(target) ?? []), patch]);
      },
      close: async () => undefined,
    },
    probe: async (url) => {
      if (down.has(url)) throw new Error('connection refused');
    },
    options: { health: HEALTH, initialDeliveryWaitMs: 1000 },
    // The first probe of an instance comes at once; later rounds every 3 s exactly.
    random: () => 0,
  });
  t.after(() => registry.close());
  const patchesTo = (name: string) => received.get(`http://${name}/services`) ?? [];
  return { clock, registry, down, patchesTo };
}

function reg(name: string, requires: string[] = [], extra: Partial<Registration> = {}): Registration {
  return {
    service: name,
    url: `http://${name}`,
    requires,
    updateUrl: `http://${name}/services`,
    heartbeatUrl: `http://${name}/heartbeat`,
    ttlMs: null,
    metadata: {},
    protocol: 'v1',
    owner: null,
    ...extra,
  };
}

const changes = (patches: Patch[]) => patches.map((p) => ({ added: p.Added.map((e) => e.URL), removed: p.Removed.map((e) => e.URL) }));

test('register answers with the providers and the revision of the change', async (t) => {
  const { registry, patchesTo } = setup(t);
  await registry.register(reg('log'));
  const answer = await registry.register(reg('grading', ['log']));
  assert.equal(answer.revision, 2);
  assert.equal(answer.delivered, true);
  assert.deepEqual(answer.providers.log?.map((p) => p.url), ['http://log']);
  assert.deepEqual(changes(patchesTo('grading')), [{ added: ['http://log'], removed: [] }]);
});

test('one failed probe is not a removal; a failed round is, and recovery adds the instance back', async (t) => {
  const { clock, registry, down, patchesTo } = setup(t);
  await registry.register(reg('log'));
  await registry.register(reg('grading', ['log']));
  const before = patchesTo('grading').length;

  await clock.tick(1); // the first round passes at once
  down.add('http://log/heartbeat');
  await clock.tick(3000); // the next round's first probe fails
  down.delete('http://log/heartbeat');
  await clock.tick(1000); // its retry passes
  assert.equal(patchesTo('grading').length, before, 'a passing retry must not notify anyone');
  assert.equal(registry.instance(registry.instances()[0]!.id).health, 'passing');

  down.add('http://log/heartbeat');
  await clock.tick(3000 + 2000 - 2); // the round starts 3 s after the passing retry; two attempts fail
  assert.equal(registry.services().find((s) => s.name === 'log')?.critical, 0);
  await clock.tick(1); // the third fails
  assert.deepEqual(changes(patchesTo('grading')).at(-1), { added: [], removed: ['http://log'] });
  assert.equal(registry.services().find((s) => s.name === 'log')?.critical, 1);

  down.delete('http://log/heartbeat');
  await clock.tick(3000 + 100);
  assert.deepEqual(changes(patchesTo('grading')).at(-1), { added: ['http://log'], removed: [] });
});

test('an instance critical for the grace period is deregistered, without a second Removed', async (t) => {
  const { clock, registry, down, patchesTo } = setup(t);
  await registry.register(reg('log'));
  await registry.register(reg('grading', ['log']));
  down.add('http://log/heartbeat');
  await clock.tick(6000 + 100);
  const removedAt = patchesTo('grading').length;
  assert.equal(registry.services().find((s) => s.name === 'log')?.critical, 1);

  await clock.tick(60_000);
  assert.equal(registry.services().find((s) => s.name === 'log')?.instances.length, 0);
  assert.equal(patchesTo('grading').length, removedAt);
});

test('a TTL instance that stops renewing is removed from its dependents\' view', async (t) => {
  const { clock, registry, patchesTo } = setup(t);
  const ttl = await registry.register(reg('cron', [], { heartbeatUrl: null, ttlMs: 5000 }));
  await registry.register(reg('watcher', ['cron']));
  await clock.tick(4000);
  registry.renew(ttl.instance.id);
  await clock.tick(4000);
  assert.equal(registry.instance(ttl.instance.id).health, 'passing');
  await clock.tick(1001);
  assert.equal(registry.instance(ttl.instance.id).health, 'critical');
  assert.deepEqual(changes(patchesTo('watcher')).at(-1), { added: [], removed: ['http://cron'] });
  registry.renew(ttl.instance.id);
  await clock.tick(0);
  assert.deepEqual(changes(patchesTo('watcher')).at(-1), { added: ['http://cron'], removed: [] });
});

test('revisions only go up and each patch links to the one before it', async (t) => {
  const { clock, registry, patchesTo } = setup(t);
  await registry.register(reg('grading', ['log']));
  for (let i = 0; i < 5; i++) {
    await registry.register(reg(`log${i}`, [], { url: `http://log${i}`, service: 'log' }));
  }
  registry.deregisterByUrl('http://log2');
  await clock.tick(10);
  const patches = patchesTo('grading');
  assert.equal(patches.length, 7);
  for (let i = 1; i < patches.length; i++) {
    assert.ok(patches[i]!.Revision! > patches[i - 1]!.Revision!);
    assert.equal(patches[i]!.PrevRevision, patches[i - 1]!.Revision);
  }
});

test('re-registering under another service name moves the instance for dependents', async (t) => {
  const { clock, registry, patchesTo } = setup(t);
  await registry.register(reg('a-watcher', ['A']));
  await registry.register(reg('b-watcher', ['B']));
  await registry.register(reg('x', [], { service: 'A' }));
  await registry.register(reg('x', [], { service: 'B' }));
  await clock.tick(10);
  assert.deepEqual(changes(patchesTo('a-watcher')).slice(1), [{ added: ['http://x'], removed: [] }, { added: [], removed: ['http://x'] }]);
  assert.deepEqual(changes(patchesTo('b-watcher')).slice(1), [{ added: ['http://x'], removed: [] }]);
  assert.equal(registry.instances().length, 3);
});

test('renewing an instance that has a heartbeat URL is refused', async (t) => {
  const { registry } = setup(t);
  const answer = await registry.register(reg('log'));
  assert.throws(() => registry.renew(answer.instance.id), { code: 'NOT_TTL_INSTANCE' });
});

test('after close, registrations are refused with REGISTRY_STOPPING', async (t) => {
  const { registry } = setup(t);
  await registry.close();
  await assert.rejects(registry.register(reg('log')), { code: 'REGISTRY_STOPPING' });
});

test('signatures: patches and probes of a v1 instance are signed with its key, also after a restart; course ones are not', async (t) => {
  const { MemoryStore } = await import('../../src/registry/store/memory-store.js');
  const { checkSignature, probePayload } = await import('../../src/protocol/signature.js');
  const store = new MemoryStore();
  const clock = new FakeClock();
  const open = () => {
    const registry = new Registry({ clock, store, channel: { send: async () => undefined, close: async () => undefined }, probe: async () => undefined, options: { health: HEALTH } });
    t.after(() => registry.close(0));
    return registry;
  };
  const first = open();
  const { signingKey } = await first.register(reg('grading', [], { heartbeatUrl: 'http://grading/heartbeat?deep=1' }));
  await first.register(reg('course', [], { protocol: 'course' }));
  await first.close(0);

  const second = open();
  await second.restore();
  const key = signingKey as string;
  const body = '{"Added":[],"Removed":[]}';
  assert.equal(checkSignature(key, second.signatureFor('http://grading/services', body) ?? undefined, body, clock.now()), 'valid');
  assert.equal(checkSignature(key, second.probeSignatureFor('http://grading/heartbeat?deep=1') ?? undefined, probePayload('/heartbeat?deep=1'), clock.now()), 'valid');
  assert.equal(second.signatureFor('http://course/services', body), null);
  assert.equal(second.probeSignatureFor('http://course/heartbeat'), null);
  assert.equal(second.signatureFor('http://unknown/services', body), null);
});

test('signatures: instances sharing an update URL: the last registered signs, the other takes over when it goes', async (t) => {
  const { checkSignature } = await import('../../src/protocol/signature.js');
  const { clock, registry } = setup(t);
  const shared = { updateUrl: 'http://host/services', heartbeatUrl: null, ttlMs: 60_000 };
  const a = await registry.register(reg('host', [], { ...shared, url: 'http://host/a' }));
  const b = await registry.register(reg('host', [], { ...shared, url: 'http://host/b' }));
  const valid = (key: string | null) => checkSignature(key as string, registry.signatureFor('http://host/services', '{}') ?? undefined, '{}', clock.now());
  assert.equal(valid(b.signingKey), 'valid');
  registry.deregisterByUrl('http://host/b');
  assert.equal(valid(a.signingKey), 'valid');
  registry.deregisterByUrl('http://host/a');
  assert.equal(registry.signatureFor('http://host/services', '{}'), null);
});
