// Collects the registry's changes and hands them to the store in batches: one write at a time,
// in order. Changes wait for the next turn of the event loop, or for the write in flight to
// finish: many registrations in one tick cost one transaction, and a slow store (etcd) gets
// fewer, larger batches under load instead of a queue of small ones.
import type { InstanceRecord } from '../catalog.js';
import { emptyBatch, isEmptyBatch, type OutboxEntry, type RegistryStore, type ServiceMaintenanceEntry, type StoreBatch } from './store.js';

export class BatchWriter {
  readonly #store: RegistryStore;
  /** The revision each batch is stamped with: the catalog's at the time of the write. */
  readonly #revision: () => number;
  readonly #onError: (error: Error) => void;
  #batch: StoreBatch = emptyBatch();
  /** Instances changed since the last write: the record, or null when removed. The last word wins. */
  #instances = new Map<string, InstanceRecord | null>();
  /** Services put in or out of maintenance since the last write; the last word wins. */
  #serviceMaintenance = new Map<string, ServiceMaintenanceEntry | null>();
  #scheduled: Promise<void> | null = null;
  #lastWrite: Promise<void> = Promise.resolve();

  constructor(store: RegistryStore, revision: () => number, onError: (error: Error) => void) {
    this.#store = store;
    this.#revision = revision;
    this.#onError = onError;
  }

  upsert(record: InstanceRecord): void {
    this.#instances.delete(record.id);
    this.#instances.set(record.id, record);
    this.#soon();
  }

  delete(id: string): void {
    this.#instances.delete(id);
    this.#instances.set(id, null);
    this.#soon();
  }

  serviceMaintenance(service: string, entry: ServiceMaintenanceEntry | null): void {
    this.#serviceMaintenance.set(service, entry);
    this.#soon();
  }

  enqueued(entry: OutboxEntry): void {
    this.#batch.enqueued.push(entry);
    this.#soon();
  }

  done(target: string, revision: number): void {
    this.#batch.done.push({ target, revision });
    this.#soon();
  }

  /** Resolves once everything staged so far is in the store; rejects if that write failed. */
  flush(): Promise<void> {
    this.#scheduled ??= this.#nextTurn().then(() => this.#write());
    return this.#scheduled;
  }

  // The write in flight (if any) has ended, and the changes of this tick are all staged.
  async #nextTurn(): Promise<void> {
    await this.#lastWrite.catch(() => undefined);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  #soon(): void {
    void this.flush().catch(this.#onError);
  }

  #write(): Promise<void> {
    const batch = this.#take();
    this.#scheduled = null;
    if (isEmptyBatch(batch)) return Promise.resolve();
    // #nextTurn() waited for the write before, so a slow store never sees batches out of order.
    const write = this.#store.write(batch);
    this.#lastWrite = write;
    return write;
  }

  #take(): StoreBatch {
    const batch = this.#batch;
    for (const [id, record] of this.#instances) {
      if (record) batch.upserts.push(record);
      else batch.deletes.push(id);
    }
    if (this.#serviceMaintenance.size > 0) batch.serviceMaintenance = [...this.#serviceMaintenance].map(([service, entry]) => ({ service, entry }));
    batch.revision = this.#revision();
    this.#batch = emptyBatch();
    this.#instances = new Map();
    this.#serviceMaintenance = new Map();
    return batch;
  }
}
