// One contract for every registry store: each store's test file runs it with its own factory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RosterError } from '../../../src/protocol/errors.js';
import type { InstanceRecord } from '../../../src/registry/catalog.js';
import { closedStoreError, emptyBatch, type OutboxEntry, type RegistryStore, type StoreBatch } from '../../../src/registry/store/store.js';

export interface StoreFactory {
  /** A new, empty store. */
  create(t: import('node:test').TestContext): Promise<RegistryStore>;
  /** The same state as `store`, opened afresh (a restart); may close `store`. */
  reopen(store: RegistryStore): Promise<RegistryStore>;
  /** Stores that can hold a damaged row (the memory store cannot): damages rows behind the store's back. */
  damage?: RowDamage;
}

/** Each overwrites one persisted row of `store` with `text` and returns the row's key as errors name it. */
export interface RowDamage {
  instance(store: RegistryStore, id: string, text: string): Promise<string>;
  /** `text` replaces the patch's list of added entries. */
  outboxAdded(store: RegistryStore, target: string, revision: number, text: string): Promise<string>;
}

export function record(name: string, revision: number, extra: Partial<InstanceRecord> = {}): InstanceRecord {
  return {
    id: `id-${name}`,
    service: name,
    url: `http://${name}.test`,
    requires: ['LogService'],
    updateUrl: `http://${name}.test/services`,
    heartbeatUrl: `http://${name}.test/heartbeat`,
    ttlMs: null,
    metadata: { version: '1.0.0', tags: ['a'] },
    health: 'passing',
    protocol: 'v1',
    owner: 'grading',
    signingKey: 'k',
    registeredAt: 1_700_000_000_000,
    revision,
    lastCheckAt: null,
    lastCheckMs: null,
    lastError: null,
    criticalSince: null,
    liveness: 'probe',
    maintenance: null,
    ...extra,
  };
}

function patch(target: string, revision: number, prevRevision: number): OutboxEntry {
  return { target, revision, prevRevision, added: [{ Name: 'LogService', URL: `http://log-${revision}.test` }], removed: [] };
}

const batch = (changes: Partial<StoreBatch>): StoreBatch => ({ ...emptyBatch(), ...changes });

export function storeContract(name: string, factory: StoreFactory): void {
  test(`${name}: a new store is empty at revision 0`, async (t) => {
    const store = await factory.create(t);
    assert.deepEqual(await store.load(), { revision: 0, instances: [], outbox: [], serviceMaintenance: [] });
  });

  test(`${name}: instances written come back after a restart, exactly`, async (t) => {
    const store = await factory.create(t);
    const critical = record('b', 2, { health: 'critical', criticalSince: 1_700_000_005_000, lastError: 'timed out' });
    await store.write(batch({ revision: 2, upserts: [record('a', 1), critical] }));
    const reopened = await factory.reopen(store);
    const { revision, instances } = await reopened.load();
    assert.equal(revision, 2);
    assert.deepEqual(instances.sort((x, y) => x.id.localeCompare(y.id)), [record('a', 1), critical]);
  });

  test(`${name}: an upsert replaces, a delete removes`, async (t) => {
    const store = await factory.create(t);
    await store.write(batch({ revision: 2, upserts: [record('a', 1), record('b', 2)] }));
    await store.write(batch({ revision: 4, upserts: [record('a', 3, { health: 'critical' })], deletes: ['id-b'] }));
    const { instances } = await store.load();
    assert.deepEqual(instances, [record('a', 3, { health: 'critical' })]);
  });

  test(`${name}: an instance's maintenance comes back after a restart`, async (t) => {
    const store = await factory.create(t);
    const maintenance = { reason: 'deploy 1.5.0', since: '2026-01-01T00:00:00.000Z', by: 'grading', scope: 'instance' as const, drainUntil: '2026-01-01T00:00:30.000Z', draining: true };
    await store.write(batch({ revision: 1, upserts: [record('a', 1, { maintenance })] }));
    const { instances } = await (await factory.reopen(store)).load();
    assert.deepEqual(instances, [record('a', 1, { maintenance })]);
  });

  test(`${name}: a service's maintenance is kept until a batch ends it`, async (t) => {
    const store = await factory.create(t);
    const entry = (service: string) => ({ service, reason: 'migration', since: '2026-01-01T00:00:00.000Z', by: 'admin', drainMs: null });
    await store.write(batch({ revision: 1, serviceMaintenance: [{ service: 'Log', entry: entry('Log') }, { service: 'Grading', entry: { ...entry('Grading'), drainMs: 5000 } }] }));
    await store.write(batch({ revision: 2, serviceMaintenance: [{ service: 'Log', entry: null }] }));
    const { serviceMaintenance } = await (await factory.reopen(store)).load();
    assert.deepEqual(serviceMaintenance, [{ ...entry('Grading'), drainMs: 5000 }]);
  });

  test(`${name}: the revision never goes down`, async (t) => {
    const store = await factory.create(t);
    await store.write(batch({ revision: 9 }));
    await store.write(batch({ revision: 5 }));
    assert.equal((await (await factory.reopen(store)).load()).revision, 9);
  });

  test(`${name}: the outbox keeps undelivered patches in order; done ones leave it`, async (t) => {
    const store = await factory.create(t);
    await store.write(batch({ revision: 3, enqueued: [patch('http://x/services', 1, 0), patch('http://y/services', 2, 0), patch('http://x/services', 3, 1)] }));
    await store.write(batch({ revision: 3, done: [{ target: 'http://x/services', revision: 1 }] }));
    const reopened = await factory.reopen(store);
    assert.deepEqual((await reopened.load()).outbox, [patch('http://y/services', 2, 0), patch('http://x/services', 3, 1)]);
  });

  test(`${name}: a patch enqueued and delivered within one batch leaves nothing behind`, async (t) => {
    const store = await factory.create(t);
    await store.write(batch({ revision: 1, enqueued: [patch('http://x/services', 1, 0)], done: [{ target: 'http://x/services', revision: 1 }] }));
    assert.deepEqual((await store.load()).outbox, []);
  });

  test(`${name}: later changes to a written record or patch do not reach the store`, async (t) => {
    const store = await factory.create(t);
    const written = record('a', 1);
    const queued = patch('http://x/services', 1, 0);
    await store.write(batch({ revision: 1, upserts: [written], enqueued: [queued] }));
    written.health = 'critical';
    written.requires.push('Portal');
    (written.metadata.tags as string[]).push('b');
    queued.added.push({ Name: 'Portal', URL: 'http://portal.test' });
    queued.added[0]!.URL = 'http://elsewhere.test';
    assert.deepEqual(await store.load(), { revision: 1, instances: [record('a', 1)], outbox: [patch('http://x/services', 1, 0)], serviceMaintenance: [] });
  });

  test(`${name}: changes to a loaded record do not reach the store`, async (t) => {
    const store = await factory.create(t);
    await store.write(batch({ revision: 1, upserts: [record('a', 1)], enqueued: [patch('http://x/services', 1, 0)] }));
    const loaded = await store.load();
    loaded.instances[0]!.requires.push('Portal');
    (loaded.instances[0]!.metadata.tags as string[]).push('b');
    loaded.outbox[0]!.added.pop();
    assert.deepEqual(await store.load(), { revision: 1, instances: [record('a', 1)], outbox: [patch('http://x/services', 1, 0)], serviceMaintenance: [] });
  });

  test(`${name}: a write or a load after close is refused, with the same error for every store`, async (t) => {
    const store = await factory.create(t);
    await store.write(batch({ revision: 1, upserts: [record('a', 1)] }));
    assert.equal(store.closed, false);
    await store.close();
    assert.equal(store.closed, true);
    const { code, message } = closedStoreError();
    await assert.rejects(store.write(batch({ revision: 2, upserts: [record('b', 2)] })), { name: 'RosterError', code, message });
    await assert.rejects(store.load(), { name: 'RosterError', code, message });
  });

  test(`${name}: close is idempotent: calls at once and later all resolve, and the store stays closed`, async (t) => {
    const store = await factory.create(t);
    await Promise.all([store.close(), store.close()]);
    await store.close();
    assert.equal(store.closed, true);
    await assert.rejects(store.write(batch({ revision: 1 })), { code: closedStoreError().code });
  });

  if (factory.damage) damagedRowContract(name, factory, factory.damage);
}

function damagedRowContract(name: string, factory: StoreFactory, damage: RowDamage): void {
  const cases: Array<[string, (store: RegistryStore) => Promise<string>, RegExp]> = [
    ['an instance with a field of the wrong type', (store) => damage.instance(store, 'id-a', JSON.stringify({ ...record('a', 1), url: 5 })), /"url"/],
    ['an instance with a field missing', (store) => damage.instance(store, 'id-a', JSON.stringify({ ...record('a', 1), health: undefined })), /"health"/],
    ['an instance that is not JSON', (store) => damage.instance(store, 'id-a', '{"id": "id-a", "serv'), /not JSON/],
    ['a queued patch', (store) => damage.outboxAdded(store, 'http://x/services', 1, '[{"Name": "LogService"}]'), /"added\.0\.URL"/],
  ];
  for (const [what, damageRow, problem] of cases) {
    test(`${name}: a damaged row is refused at load, naming it: ${what}`, async (t) => {
      const store = await factory.create(t);
      await store.write(batch({ revision: 2, upserts: [record('a', 1), record('b', 2)], enqueued: [patch('http://x/services', 1, 0)] }));
      const key = await damageRow(store);
      const reopened = await factory.reopen(store);
      await assert.rejects(reopened.load(), (error: RosterError) => {
        assert.equal(error.code, 'STORE_DAMAGED');
        // A store with a file names the file ("sqlite:/path" → "/path"), others their description.
        for (const part of [reopened.description.replace(/^sqlite:/, ''), key]) assert.ok(error.message.includes(part), `${error.message} names ${part}`);
        assert.match(error.message, problem);
        return true;
      });
    });
  }
}
