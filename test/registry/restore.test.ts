// Registry.restore(): a registry opened on a store that holds instances, their health and
// undelivered patches resumes from it, as after a restart (no process needs to die for it).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Patch } from '../../src/protocol/course.js';
import type { InstanceRecord } from '../../src/registry/catalog.js';
import { Registry } from '../../src/registry/registry.js';
import { MemoryStore } from '../../src/registry/store/memory-store.js';
import { emptyBatch, type OutboxEntry } from '../../src/registry/store/store.js';
import { FakeClock } from '../helpers/fake-clock.js';

const HEALTH = { intervalMs: 3000, jitter: 0, timeoutMs: 1000, attempts: 3, retryDelayMs: 1000, graceMs: 60_000, defaultTtlMs: 15_000 };
const STORED_REVISION = 7;
/** When the registry starts again: 10 s after the grading instance went critical, well within its grace. */
const RESTART_AT = 1_767_226_000_000;

function record(service: string, revision: number, extra: Partial<InstanceRecord> = {}): InstanceRecord {
  const url = `http://${service.toLowerCase()}.test`;
  return {
    id: `id-${service}`, service, url, requires: [], updateUrl: `${url}/services`, heartbeatUrl: `${url}/heartbeat`, ttlMs: null,
    metadata: {}, health: 'passing', protocol: 'v1', owner: 'admin', signingKey: `key-${service}`, registeredAt: 1_767_225_000_000,
    revision, lastCheckAt: null, lastCheckMs: null, lastError: null, criticalSince: null, ...extra,
  };
}

const log = record('Log', 3);
const grading = record('Grading', 6, { requires: ['Log'], health: 'critical', criticalSince: RESTART_AT - 10_000, lastError: 'connection refused' });
const portalUpdates = 'http://portal.test/services';
const gradingUpdates = 'http://grading.test/services';

function outboxEntry(target: string, revision: number, prevRevision: number, logUrl: string): OutboxEntry {
  return { target, revision, prevRevision, added: [{ Name: 'Log', URL: logUrl }], removed: [] };
}

/** The undelivered patches, oldest first: two for the portal, one for grading between them. */
const outbox = [
  outboxEntry(portalUpdates, 4, 2, 'http://log-a.test'),
  outboxEntry(gradingUpdates, 5, 0, 'http://log-b.test'),
  outboxEntry(portalUpdates, 7, 4, 'http://log-c.test'),
];

async function storeWithState(): Promise<MemoryStore> {
  const store = new MemoryStore();
  await store.write({ ...emptyBatch(), revision: STORED_REVISION, upserts: [log, grading], enqueued: outbox });
  return store;
}

function open(t: TestContext, store: MemoryStore) {
  const clock = new FakeClock(RESTART_AT);
  const sent: Array<{ target: string; patch: Patch }> = [];
  const probed: string[] = [];
  const registry = new Registry({
    clock,
    store,
    options: { health: HEALTH },
    random: () => 0.5,
    channel: { send: async (target, patch) => void sent.push({ target, patch }), close: async () => undefined },
    probe: async (url) => void probed.push(url),
  });
  t.after(() => registry.close(0));
  return { registry, clock, sent, probed };
}

test('restore brings back every instance with its health', async (t) => {
  const { registry } = open(t, await storeWithState());
  assert.deepEqual(await registry.restore(), { instances: 2, pending: 3 });
  const byService = new Map(registry.instances().map((instance) => [instance.service, instance]));
  assert.deepEqual([...byService.keys()].sort(), ['Grading', 'Log']);
  assert.equal(byService.get('Log')?.health, 'passing');
  assert.equal(byService.get('Grading')?.health, 'critical');
  assert.equal(byService.get('Grading')?.criticalSince, grading.criticalSince);
  assert.deepEqual(registry.service('Grading').instances.map((instance) => instance.url), [grading.url]);
  // A restored v1 instance is signed for with the key it was given before the restart.
  assert.notEqual(registry.signatureFor(log.updateUrl as string, '{}'), null);
});

test('restore continues the revisions: the next change gets the one after the stored revision', async (t) => {
  const { registry } = open(t, await storeWithState());
  await registry.restore();
  assert.equal(registry.revision, STORED_REVISION);
  const { instance } = await registry.register({ service: 'Reports', url: 'http://reports.test', requires: [], updateUrl: null, heartbeatUrl: null, ttlMs: 60_000, metadata: {}, protocol: 'v1', owner: null });
  assert.equal(instance.revision, STORED_REVISION + 1);
});

test('restore queues the undelivered patches again, in order, and the store forgets them once delivered', async (t) => {
  const store = await storeWithState();
  const { registry, clock, sent } = open(t, store);
  await registry.restore();
  await clock.tick(0);
  const revisionsTo = (target: string) => sent.filter((s) => s.target === target).map((s) => [s.patch.Revision, s.patch.PrevRevision, s.patch.Added[0]?.URL]);
  assert.deepEqual(revisionsTo(portalUpdates), [[4, 2, 'http://log-a.test'], [7, 4, 'http://log-c.test']]);
  assert.deepEqual(revisionsTo(gradingUpdates), [[5, 0, 'http://log-b.test']]);
  await clock.tick(0);
  assert.deepEqual((await store.load()).outbox, []);
});

test('restore resumes the health checks: each instance, passing or critical, is probed within one interval', async (t) => {
  const { registry, clock, probed } = open(t, await storeWithState());
  await registry.restore();
  await clock.tick(HEALTH.intervalMs);
  assert.deepEqual(probed.sort(), [grading.heartbeatUrl, log.heartbeatUrl].sort());
});

test('a store with nothing in it restores an empty registry at revision 0', async (t) => {
  const { registry, sent } = open(t, new MemoryStore());
  assert.deepEqual(await registry.restore(), { instances: 0, pending: 0 });
  assert.equal(registry.revision, 0);
  assert.deepEqual(registry.instances(), []);
  assert.deepEqual(sent, []);
});
