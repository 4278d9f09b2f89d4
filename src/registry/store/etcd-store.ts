// The registry's state in etcd, for cluster mode. Only the elected leader writes; every write
// is guarded by the leader's campaign key, so a leader that lost its lease cannot overwrite
// its successor's state.
import { createHash } from 'node:crypto';
import type { Etcd3 } from 'etcd3';
import { notLeader } from '../../protocol/errors.js';
import { parseInstanceRow, parseOutboxRow, parseRowJson, parseServiceMaintenanceRow, type RowSource } from './rows.js';
import { closedStoreError, type RegistryStore, type StoreBatch, type StoreSnapshot } from './store.js';

/** etcd refuses transactions of more than 128 operations by default. */
const OPS_PER_TXN = 100;

export interface EtcdKeys {
  revision: string;
  instances: string;
  outbox: string;
  /** Services in maintenance, one key each. */
  serviceMaintenance: string;
}

export function etcdKeys(prefix: string): EtcdKeys {
  return { revision: `${prefix}meta/revision`, instances: `${prefix}instances/`, outbox: `${prefix}outbox/`, serviceMaintenance: `${prefix}service-maintenance/` };
}

export class EtcdStore implements RegistryStore {
  readonly description: string;
  readonly #client: Etcd3;
  readonly #keys: EtcdKeys;
  /** The leader's campaign key: writes succeed only while it exists. */
  readonly #guardKey: string | undefined;
  /** The highest revision read or written: the stored one never goes down. */
  #revision = 0;
  #closed = false;

  constructor(client: Etcd3, options: { prefix?: string; guardKey?: string } = {}) {
    const prefix = options.prefix ?? '/roster/';
    this.description = `etcd:${prefix}`;
    this.#client = client;
    this.#keys = etcdKeys(prefix);
    this.#guardKey = options.guardKey;
  }

  get closed(): boolean {
    return this.#closed;
  }

  async load(): Promise<StoreSnapshot> {
    if (this.#closed) throw closedStoreError();
    const [revision, instances, outbox, serviceMaintenance] = await Promise.all([
      this.#client.get(this.#keys.revision).number(),
      this.#client.getAll().prefix(this.#keys.instances).strings(),
      this.#client.getAll().prefix(this.#keys.outbox).sort('Key', 'Ascend').strings(),
      this.#client.getAll().prefix(this.#keys.serviceMaintenance).strings(),
    ]);
    this.#revision = Math.max(this.#revision, revision ?? 0);
    return {
      revision: this.#revision,
      instances: Object.entries(instances).map(([key, json]) => parseInstanceRow(this.#parseJson(key, json), this.#source(key))),
      outbox: Object.keys(outbox)
        .sort()
        .map((key) => parseOutboxRow(this.#parseJson(key, outbox[key] as string), this.#source(key))),
      serviceMaintenance: Object.entries(serviceMaintenance).map(([key, json]) => parseServiceMaintenanceRow(this.#parseJson(key, json), this.#source(key))),
    };
  }

  async write(batch: StoreBatch): Promise<void> {
    if (this.#closed) throw closedStoreError();
    this.#revision = Math.max(this.#revision, batch.revision);
    // etcd refuses a transaction that names a key twice: a patch queued and delivered within
    // this batch is left out altogether, and a key written twice keeps its last value.
    const done = new Set(batch.done.map(({ target, revision }) => this.#outboxKey(target, revision)));
    const enqueued = new Map(batch.enqueued.map((entry) => [this.#outboxKey(entry.target, entry.revision), entry]));
    for (const key of done) {
      if (enqueued.delete(key)) done.delete(key);
    }
    // The revision goes first: a mirror labels the removals of this transaction with it.
    const ops = [
      this.#client.put(this.#keys.revision).value(String(this.#revision)),
      ...batch.upserts.map((record) => this.#client.put(this.#instanceKey(record.id)).value(JSON.stringify(record))),
      ...[...enqueued].map(([key, entry]) => this.#client.put(key).value(JSON.stringify(entry))),
      ...batch.deletes.map((id) => this.#client.delete().key(this.#instanceKey(id))),
      ...[...done].map((key) => this.#client.delete().key(key)),
      ...(batch.serviceMaintenance ?? []).map(({ service, entry }) => {
        const key = `${this.#keys.serviceMaintenance}${encodeURIComponent(service)}`;
        return entry ? this.#client.put(key).value(JSON.stringify(entry)) : this.#client.delete().key(key);
      }),
    ];
    for (let start = 0; start < ops.length; start += OPS_PER_TXN) {
      await this.#commit(ops.slice(start, start + OPS_PER_TXN));
    }
  }

  async close(): Promise<void> {
    // The etcd client belongs to the caller, who closes it: closing the store only refuses
    // what comes after.
    this.#closed = true;
  }

  async #commit(ops: Parameters<ReturnType<Etcd3['if']>['then']>): Promise<void> {
    const txn = this.#guardKey
      ? this.#client.if(this.#guardKey, 'Create', '>', 0)
      : this.#client.if(this.#keys.revision, 'Mod', '>', -1); // always true: a plain transaction
    const result = await txn.then(...ops).commit();
    if (!result.succeeded) {
      throw notLeader();
    }
  }

  #parseJson(key: string, json: string): unknown {
    return parseRowJson(json, this.#source(key));
  }

  #source(key: string): RowSource {
    return { store: this.description, key };
  }

  #instanceKey(id: string): string {
    return `${this.#keys.instances}${id}`;
  }

  /** Sorted by revision (zero-padded), then by target: the order patches are re-queued in. */
  #outboxKey(target: string, revision: number): string {
    const targetHash = createHash('sha256').update(target).digest('base64url').slice(0, 16);
    return `${this.#keys.outbox}${String(revision).padStart(15, '0')}/${targetHash}`;
  }
}

