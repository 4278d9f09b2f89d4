import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { EtcdStore } from '../../../src/registry/store/etcd-store.js';
import type { RegistryStore } from '../../../src/registry/store/store.js';
import { startEtcdCluster, type EtcdCluster } from '../../helpers/etcd-cluster.js';
import { record, storeContract } from './store-contract.js';

// One etcd member for the whole file, stopped after its last test.
const etcd: EtcdCluster = await startEtcdCluster({ after }, 1);
const client = new Etcd3({ hosts: etcd.endpoints });
after(() => client.close());
let suite = 0;
const prefixes = new WeakMap<RegistryStore, string>();

async function etcdClient(_t: import('node:test').TestContext): Promise<Etcd3> {
  return client;
}

storeContract('etcd store', {
  create: async (t) => {
    const prefix = `/contract-${++suite}/`;
    const store = new EtcdStore(await etcdClient(t), { prefix });
    prefixes.set(store, prefix);
    return store;
  },
  reopen: async (store) => {
    const prefix = prefixes.get(store)!;
    const reopened = new EtcdStore(client!, { prefix });
    prefixes.set(reopened, prefix);
    return reopened;
  },
  damage: {
    instance: async (store, id, text) => {
      const key = `${prefixes.get(store)!}instances/${id}`;
      await client.put(key).value(text);
      return key;
    },
    outboxAdded: async (store, target, revision, text) => {
      const entries = await client.getAll().prefix(`${prefixes.get(store)!}outbox/`).strings();
      const [key, json] = Object.entries(entries).find(([, value]) => {
        const entry = JSON.parse(value) as { target: string; revision: number };
        return entry.target === target && entry.revision === revision;
      })!;
      await client.put(key).value(json.replace(/"added":\[.*?\],"removed"/, `"added":${text},"removed"`));
      return key;
    },
  },
});

test('etcd store: a write guarded by a campaign key that is gone is refused and changes nothing', async (t) => {
  const etcdClient3 = await etcdClient(t);
  const store = new EtcdStore(etcdClient3, { prefix: '/guarded/', guardKey: '/guarded/leader/gone' });
  await assert.rejects(store.write({ revision: 1, upserts: [record('a', 1)], deletes: [], enqueued: [], done: [] }), { code: 'NOT_LEADER' });
  assert.deepEqual(await new EtcdStore(etcdClient3, { prefix: '/guarded/' }).load(), { revision: 0, instances: [], outbox: [], serviceMaintenance: [] });
});

test('etcd store: a batch larger than one etcd transaction is written whole', async (t) => {
  const store = new EtcdStore(await etcdClient(t), { prefix: '/large/' });
  const records = Array.from({ length: 250 }, (_, i) => record(`s${i}`, i + 1));
  await store.write({ revision: 250, upserts: records, deletes: [], enqueued: [], done: [] });
  const { revision, instances } = await store.load();
  assert.equal(revision, 250);
  assert.equal(instances.length, 250);
});
