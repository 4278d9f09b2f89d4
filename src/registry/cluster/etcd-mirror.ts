// Every cluster node's read-only copy of the catalog, kept current by an etcd watch. The leader
// writes; all nodes, the leader included, see each change arrive here. Every row is parsed as
// the store's load parses it: a damaged one is reported and left out, never taken as it is.
import { EventEmitter } from 'node:events';
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { Catalog, type InstanceRecord } from '../catalog.js';
import type { RegistryChange } from '../registry-api.js';
import { etcdKeys, type EtcdKeys } from '../store/etcd-store.js';
import { parseInstanceRow, parseRevisionRow, parseRowJson, type RowSource } from '../store/rows.js';
import { silentLogger, type Logger } from '../../shared/logger.js';

export type EtcdMirrorEvents = { change: [change: RegistryChange] };

export class EtcdMirror extends EventEmitter<EtcdMirrorEvents> {
  readonly catalog = new Catalog();
  readonly #client: Etcd3;
  readonly #keys: EtcdKeys;
  readonly #prefix: string;
  readonly #logger: Logger;
  #watcher: Watcher | undefined;
  #closing: Promise<void> | undefined;

  constructor(client: Etcd3, prefix: string, logger: Logger = silentLogger) {
    super();
    this.#client = client;
    this.#prefix = prefix;
    this.#keys = etcdKeys(prefix);
    this.#logger = logger;
  }

  /** Loads the catalog, then follows every change made after that read. */
  async start(): Promise<void> {
    const [instances, revision] = await Promise.all([
      this.#client.getAll().prefix(this.#keys.instances).exec(),
      this.#client.get(this.#keys.revision).number(),
    ]);
    const records = instances.kvs.map((kv) => this.#parseRecord(kv));
    this.catalog.restore(revision ?? 0, records);
    const next = (BigInt(instances.header.revision) + 1n).toString();
    const watcher = await this.#client.watch().prefix(this.#prefix).startRevision(next).create();
    // Closed while the watch was being created: nobody else would cancel it.
    if (this.#closing) return void (await watcher.cancel());
    this.#watcher = watcher;
    watcher.on('put', (kv) => this.#onPut(kv));
    watcher.on('delete', (kv) => this.#onDelete(kv));
  }

  /** Stops following etcd. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const watcher = this.#watcher;
      this.#watcher = undefined;
      await watcher?.cancel();
    })();
    return this.#closing;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  #onPut(kv: IKeyValue): void {
    const key = kv.key.toString();
    if (key !== this.#keys.revision && !key.startsWith(this.#keys.instances)) return;
    const row = this.#readRow(kv);
    if (row === null) return;
    if (typeof row === 'number') return this.catalog.advanceTo(row);
    this.#take(row);
  }

  /** The revision or the instance a live update holds; null when its row is damaged. */
  #readRow(kv: IKeyValue): number | InstanceRecord | null {
    try {
      return kv.key.toString() === this.#keys.revision ? this.#parseRevision(kv) : this.#parseRecord(kv);
    } catch (error) {
      // STORE_DAMAGED, reported: the catalog keeps what it had until a good row replaces it.
      this.#logger.error({ err: error, key: kv.key.toString() }, `ignored a damaged row from etcd: ${(error as Error).message}`);
      return null;
    }
  }

  #take(record: InstanceRecord): void {
    const previous = this.catalog.put(record);
    const type = previous && previous.health !== record.health ? record.health : 'registered';
    this.emit('change', { type, revision: record.revision, instance: record });
  }

  /** A damaged row refuses the start, as it refuses the store's load. */
  #parseRecord(kv: IKeyValue): InstanceRecord {
    const source = this.#source(kv);
    return parseInstanceRow(parseRowJson(kv.value.toString(), source), source);
  }

  #parseRevision(kv: IKeyValue): number {
    const source = this.#source(kv);
    return parseRevisionRow(parseRowJson(kv.value.toString(), source), source);
  }

  #source(kv: IKeyValue): RowSource {
    return { store: `etcd:${this.#prefix}`, key: kv.key.toString() };
  }

  #onDelete(kv: IKeyValue): void {
    const key = kv.key.toString();
    if (!key.startsWith(this.#keys.instances)) return;
    const record = this.catalog.delete(key.slice(this.#keys.instances.length));
    if (!record) return;
    // The leader writes the revision first in the same transaction: it is already here.
    const removed = { ...record, revision: this.catalog.revision };
    this.emit('change', { type: 'deregistered', revision: removed.revision, instance: removed });
  }
}
