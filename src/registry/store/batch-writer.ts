// Collects the registry's changes and hands them to the store in batches: one write per tick,
// one write at a time, in order. Many registrations in one tick cost one transaction.
import type { InstanceRecord } from '../catalog.js';
import { emptyBatch, isEmptyBatch, type OutboxEntry, type RegistryStore, type StoreBatch } from './store.js';

export class BatchWriter {
  readonly #store: RegistryStore;
  /** The revision each batch is stamped with: the catalog's at the time of the write. */
  readonly #revision: () => number;
  readonly #onError: (error: Error) => void;
  #batch: StoreBatch = emptyBatch();
  /** Instances changed since the last write: the record, or null when removed. The last word wins. */
  #instances = new Map<string, InstanceRecord | null>();
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
    this.#scheduled ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#write());
    return this.#scheduled;
  }

  #soon(): void {
    void this.flush().catch(this.#onError);
  }

  #write(): Promise<void> {
    const batch = this.#take();
    this.#scheduled = null;
    if (isEmptyBatch(batch)) return Promise.resolve();
    // Each write waits for the one before, so a slow store never sees batches out of order.
    const write = this.#lastWrite.catch(() => undefined).then(() => this.#store.write(batch));
    this.#lastWrite = write;
    return write;
  }

  #take(): StoreBatch {
    const batch = this.#batch;
    for (const [id, record] of this.#instances) {
      if (record) batch.upserts.push(record);
      else batch.deletes.push(id);
    }
    batch.revision = this.#revision();
    this.#batch = emptyBatch();
    this.#instances = new Map();
    return batch;
  }
}
