// The embedded default: the registry's state in one SQLite file (better-sqlite3, WAL).
// Batches are written in one transaction each. With synchronous=NORMAL in WAL mode a
// committed batch survives the registry being killed; a power cut may lose the last batches.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { schemaTooNew } from '../../protocol/errors.js';
import type { InstanceRecord } from '../catalog.js';
import { parseInstanceRow, parseOutboxRow, parseRowJson, type RowSource } from './rows.js';
import { closedStoreError, type OutboxEntry, type RegistryStore, type StoreBatch, type StoreSnapshot } from './store.js';

const SCHEMA_VERSION = 1;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS instances (id TEXT PRIMARY KEY, record TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL,
    revision INTEGER NOT NULL,
    prev_revision INTEGER NOT NULL,
    added TEXT NOT NULL,
    removed TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS outbox_by_target ON outbox (target, revision);
`;

interface InstanceRow {
  id: string;
  record: string;
}

interface OutboxRow {
  seq: number;
  target: string;
  revision: number;
  prev_revision: number;
  added: string;
  removed: string;
}

export class SqliteStore implements RegistryStore {
  readonly description: string;
  readonly #db: Database.Database;
  readonly #writeBatch: (batch: StoreBatch) => void;
  #closed = false;

  constructor(file: string) {
    this.description = `sqlite:${file}`;
    mkdirSync(dirname(file), { recursive: true });
    this.#db = openDatabase(file);
    this.#writeBatch = this.#prepareWrites();
  }

  get closed(): boolean {
    return this.#closed;
  }

  async load(): Promise<StoreSnapshot> {
    if (this.#closed) throw closedStoreError();
    const revision = (this.#db.prepare("SELECT value FROM meta WHERE key = 'revision'").get() as { value: number } | undefined)?.value ?? 0;
    const instances = (this.#db.prepare('SELECT id, record FROM instances').all() as InstanceRow[]).map((row) => this.#toRecord(row));
    const outbox = (this.#db.prepare('SELECT seq, target, revision, prev_revision, added, removed FROM outbox ORDER BY seq').all() as OutboxRow[]).map(
      (row) => this.#toEntry(row),
    );
    return { revision, instances, outbox };
  }

  async write(batch: StoreBatch): Promise<void> {
    if (this.#closed) throw closedStoreError();
    this.#writeBatch(batch);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  #toRecord(row: InstanceRow): InstanceRecord {
    const source: RowSource = { store: this.description, key: `instances/${row.id}` };
    return parseInstanceRow(parseRowJson(row.record, source), source);
  }

  #toEntry(row: OutboxRow): OutboxEntry {
    const source: RowSource = { store: this.description, key: `outbox/${row.seq}` };
    const entry = { target: row.target, revision: row.revision, prevRevision: row.prev_revision };
    return parseOutboxRow({ ...entry, added: parseRowJson(row.added, source), removed: parseRowJson(row.removed, source) }, source);
  }

  #prepareWrites(): (batch: StoreBatch) => void {
    const db = this.#db;
    const setRevision = db.prepare("INSERT INTO meta (key, value) VALUES ('revision', ?) ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)");
    const upsert = db.prepare('INSERT INTO instances (id, record) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET record = excluded.record');
    const remove = db.prepare('DELETE FROM instances WHERE id = ?');
    const enqueue = db.prepare('INSERT INTO outbox (target, revision, prev_revision, added, removed) VALUES (?, ?, ?, ?, ?)');
    const done = db.prepare('DELETE FROM outbox WHERE target = ? AND revision = ?');
    return db.transaction((batch: StoreBatch) => {
      setRevision.run(batch.revision);
      for (const record of batch.upserts) upsert.run(record.id, JSON.stringify(record));
      for (const e of batch.enqueued) enqueue.run(e.target, e.revision, e.prevRevision, JSON.stringify(e.added), JSON.stringify(e.removed));
      for (const id of batch.deletes) remove.run(id);
      for (const { target, revision } of batch.done) done.run(target, revision);
    });
  }
}

function openDatabase(file: string): Database.Database {
  const db = new Database(file);
  try {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw schemaTooNew(file, version, 'upgrade Roster or choose another --data-dir');
    }
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(SCHEMA);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}
