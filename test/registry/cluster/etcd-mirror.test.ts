// EtcdMirror against a real etcd: it loads what the store holds, then follows every change.
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { EtcdMirror } from '../../../src/registry/cluster/etcd-mirror.js';
import { EtcdStore } from '../../../src/registry/store/etcd-store.js';
import { emptyBatch } from '../../../src/registry/store/store.js';
import { RosterError } from '../../../src/protocol/errors.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { startEtcdCluster } from '../../helpers/etcd-cluster.js';
import { changesOf, freshPrefix, record } from './cluster-helpers.js';

const etcd = await startEtcdCluster({ after }, 1);
const client = new Etcd3({ hosts: etcd.endpoints });
after(() => client.close());

/** A mirror and the store the leader would write through, on a prefix of their own. */
function pair(t: TestContext, prefix = freshPrefix()) {
  const store = new EtcdStore(client, { prefix });
  const mirror = new EtcdMirror(client, prefix);
  t.after(() => mirror.close());
  return { store, mirror, prefix };
}

test('start loads the instances and the revision already in etcd', async (t) => {
  const { store, mirror } = pair(t);
  await store.write({ ...emptyBatch(), revision: 5, upserts: [record('Log', 2), record('Grading', 5, { requires: ['Log'] })] });
  await mirror.start();
  assert.equal(mirror.catalog.revision, 5);
  assert.deepEqual(mirror.catalog.list().map((r) => [r.service, r.revision]).sort(), [['Grading', 5], ['Log', 2]]);
  assert.deepEqual(mirror.catalog.get('id-Grading')?.requires, ['Log']);
});

test('changes written after start arrive as change events, in order, with their revisions', async (t) => {
  const { store, mirror } = pair(t);
  await mirror.start();
  const changes = changesOf(mirror);
  await store.write({ ...emptyBatch(), revision: 1, upserts: [record('Log', 1)] });
  await store.write({ ...emptyBatch(), revision: 2, upserts: [record('Log', 2, { health: 'critical', criticalSince: 1 })] });
  await store.write({ ...emptyBatch(), revision: 3, upserts: [record('Log', 3, { health: 'passing' })] });
  await store.write({ ...emptyBatch(), revision: 4, deletes: ['id-Log'] });
  const seen = await changes.count(4);
  assert.deepEqual(seen.map((c) => [c.type, c.revision, c.instance.id]), [
    ['registered', 1, 'id-Log'],
    ['critical', 2, 'id-Log'],
    ['passing', 3, 'id-Log'],
    // A removal carries the revision the same transaction wrote first.
    ['deregistered', 4, 'id-Log'],
  ]);
  assert.equal(mirror.catalog.revision, 4);
  assert.deepEqual(mirror.catalog.list(), []);
});

test('an update that keeps the health is announced as a registration', async (t) => {
  const { store, mirror } = pair(t);
  await store.write({ ...emptyBatch(), revision: 1, upserts: [record('Log', 1)] });
  await mirror.start();
  const changes = changesOf(mirror);
  await store.write({ ...emptyBatch(), revision: 2, upserts: [record('Log', 2, { metadata: { version: '2' } })] });
  const [change] = await changes.count(1);
  assert.deepEqual([change?.type, change?.revision, change?.instance.metadata], ['registered', 2, { version: '2' }]);
});

test('keys outside its prefix, and patches waiting in the outbox, are no change of the catalog', async (t) => {
  const { store, mirror, prefix } = pair(t);
  const neighbour = new EtcdStore(client, { prefix: `${prefix.slice(0, -1)}-neighbour/` });
  await mirror.start();
  const changes = changesOf(mirror);
  await neighbour.write({ ...emptyBatch(), revision: 9, upserts: [record('Other', 9)] });
  await store.write({ ...emptyBatch(), revision: 1, enqueued: [{ target: 'http://log.test/services', revision: 1, prevRevision: 0, added: [], removed: [] }] });
  await store.write({ ...emptyBatch(), revision: 2, upserts: [record('Log', 2)] });
  const [first] = await changes.count(1);
  assert.equal(first?.instance.id, 'id-Log');
  assert.deepEqual(mirror.catalog.list().map((r) => r.id), ['id-Log']);
  assert.equal(mirror.catalog.revision, 2);
});

test('a damaged row from the watch is reported as STORE_DAMAGED and not taken; the rows after it are', async (t) => {
  const prefix = freshPrefix();
  const store = new EtcdStore(client, { prefix });
  const reported: Array<{ err?: unknown; key?: string }> = [];
  const mirror = new EtcdMirror(client, prefix, { ...silentLogger, error: (fields) => void reported.push(fields as { err?: unknown; key?: string }) });
  t.after(() => mirror.close());
  await mirror.start();
  const changes = changesOf(mirror);

  await client.put(`${prefix}instances/id-Broken`).value(JSON.stringify({ ...record('Broken', 1), service: 42 }));
  await client.put(`${prefix}instances/id-Garbled`).value('{"id":');
  await client.put(`${prefix}meta/revision`).value('-3');
  await store.write({ ...emptyBatch(), revision: 2, upserts: [record('Log', 2)] });

  const [change] = await changes.count(1);
  assert.equal(change?.instance.id, 'id-Log');
  assert.deepEqual(mirror.catalog.list().map((r) => r.id), ['id-Log']);
  assert.equal(mirror.catalog.revision, 2);
  assert.deepEqual(reported.map((fields) => fields.key), [`${prefix}instances/id-Broken`, `${prefix}instances/id-Garbled`, `${prefix}meta/revision`]);
  for (const { err } of reported) {
    assert.ok(err instanceof RosterError && err.code === 'STORE_DAMAGED', String(err));
  }
  assert.match(String((reported[0]?.err as Error).message), /"service"/);
});

test('close is idempotent; after it nothing more arrives', async (t) => {
  const { store, mirror } = pair(t);
  await mirror.start();
  const changes = changesOf(mirror);
  await Promise.all([mirror.close(), mirror.close()]);
  await mirror.close();
  assert.equal(mirror.closed, true);
  await assertNoChangeSeen(t, store, changes);
  assert.deepEqual(mirror.catalog.list(), []);
});

test('a mirror closed while it starts cancels its watch', async (t) => {
  const { store, mirror } = pair(t);
  const starting = mirror.start();
  await mirror.close();
  await starting;
  const changes = changesOf(mirror);
  await assertNoChangeSeen(t, store, changes);
});

/**
 * Writes through `store` and asserts the closed mirror saw nothing. A write on a second prefix,
 * seen by a mirror of its own, shows the first watch had its chance to deliver.
 */
async function assertNoChangeSeen(t: TestContext, store: EtcdStore, changes: { seen: unknown[] }): Promise<void> {
  await store.write({ ...emptyBatch(), revision: 1, upserts: [record('Log', 1)] });
  const witness = pair(t);
  await witness.mirror.start();
  const witnessed = changesOf(witness.mirror);
  await witness.store.write({ ...emptyBatch(), revision: 1, upserts: [record('Log', 1)] });
  await witnessed.count(1);
  assert.deepEqual(changes.seen, []);
}
