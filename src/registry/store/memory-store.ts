// Keeps the registry's state in this process only: for tests, and for users who want no disk.
// A new Registry opened on the same MemoryStore object resumes as after a restart.
import type { InstanceRecord } from '../catalog.js';
import { closedStoreError, type OutboxEntry, type RegistryStore, type ServiceMaintenanceEntry, type StoreBatch, type StoreSnapshot } from './store.js';

export class MemoryStore implements RegistryStore {
  readonly description = 'memory';
  #revision = 0;
  #instances = new Map<string, InstanceRecord>();
  #outbox: Array<OutboxEntry & { seq: number }> = [];
  #seq = 0;
  #serviceMaintenance = new Map<string, ServiceMaintenanceEntry>();
  #closed = false;

  get closed(): boolean {
    return this.#closed;
  }

  async load(): Promise<StoreSnapshot> {
    if (this.#closed) throw closedStoreError();
    return {
      revision: this.#revision,
      instances: [...this.#instances.values()].map((record) => structuredClone(record)),
      outbox: this.#outbox.map(({ seq: _seq, ...entry }) => structuredClone(entry)),
      serviceMaintenance: [...this.#serviceMaintenance.values()].map((entry) => ({ ...entry })),
    };
  }

  async write(batch: StoreBatch): Promise<void> {
    if (this.#closed) throw closedStoreError();
    this.#revision = Math.max(this.#revision, batch.revision);
    for (const record of batch.upserts) this.#instances.set(record.id, copyRecord(record));
    for (const entry of batch.enqueued) this.#outbox.push({ ...structuredClone(entry), seq: ++this.#seq });
    for (const id of batch.deletes) this.#instances.delete(id);
    for (const { service, entry } of batch.serviceMaintenance ?? []) {
      if (entry) this.#serviceMaintenance.set(service, { ...entry });
      else this.#serviceMaintenance.delete(service);
    }
    const done = new Set(batch.done.map(({ target, revision }) => `${revision} ${target}`));
    if (done.size > 0) this.#outbox = this.#outbox.filter((entry) => !done.has(`${entry.revision} ${entry.target}`));
  }

  /** The state stays in this object: a new store cannot reopen it, so nothing is lost by closing. */
  async close(): Promise<void> {
    this.#closed = true;
  }
}

// A copy, so that the catalog's later changes to its own record do not reach the store behind
// the registry's back. Cheaper than structuredClone for the one nested part most records lack.
function copyRecord(record: InstanceRecord): InstanceRecord {
  const { metadata } = record;
  const copiedMetadata = Object.keys(metadata).length === 0 ? {} : structuredClone(metadata);
  const copy = { ...record, requires: [...record.requires], metadata: copiedMetadata };
  if (record.maintenance) copy.maintenance = { ...record.maintenance };
  return copy;
}
