// The embedded default: the registry's state in one SQLite file (better-sqlite3, WAL).
// Batches are written in one transaction each. With synchronous=NORMAL in WAL mode a
// committed batch survives the registry being killed; a power cut may lose the last batches.
// At open the file is checked (schema, SQLite's quick check, the record kept beside it) and at
// load every row is parsed: damaged state is refused, naming the file and the way out.
import { mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type Database from 'better-sqlite3';
import { damagedState, type RosterError, schemaTooNew } from '../../protocol/errors.js';
import type { Clock } from '../../shared/clock.js';
import {
  isDamagedState,
  missingTables,
  openCheckedDatabase,
  quickCheckProblem,
  recordIfPossible,
  resetDamaged,
  stateRecordFileOf,
  tablesOf,
  type CheckedDatabaseOptions,
  type StateCounts,
} from '../../shared/sqlite-state.js';
import type { InstanceRecord } from '../catalog.js';
import { parseInstanceRow, parseOutboxRow, parseRowJson, parseServiceMaintenanceRow, type RowSource } from './rows.js';
import { closedStoreError, type OutboxEntry, type RegistryStore, type ServiceMaintenanceEntry, type StoreBatch, type StoreSnapshot } from './store.js';

/** How an operator starts afresh from damaged state (said in every refusal). */
export const REGISTRY_RESET_REMEDY = '`roster registry --reset-data` (startRegistry({ resetData: true }))';

/** The record's old name, one per folder: taken over once by registry.db's own record. */
const LEGACY_STATE_RECORD = 'registry.state.json';

const TABLES = ['meta', 'instances', 'outbox'] as const;

export interface SqliteStoreOptions {
  /** Damaged state is moved aside as registry.db.damaged-<time> and the store starts empty, instead of refusing. */
  resetData?: boolean;
  /** Stamps the name of a file moved aside. */
  clock?: Clock;
  /** Told when damaged state was moved aside, and why. */
  onReset?: (aside: string, problem: string) => void;
  /** Told what is wrong but does not stop the start: the file behind its record, a record that cannot be read. */
  onWarning?: (message: string) => void;
}

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
  CREATE TABLE IF NOT EXISTS service_maintenance (service TEXT PRIMARY KEY, entry TEXT NOT NULL);
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
  readonly #file: string;
  readonly #recordFile: string;
  readonly #opening: CheckedDatabaseOptions;
  #db: Database.Database;
  #writeBatch: (batch: StoreBatch) => void;
  /** The revision the record beside the file holds; 0 until there is state worth recording. */
  #recordedRevision = 0;
  #closed = false;

  constructor(file: string, options: SqliteStoreOptions = {}) {
    this.description = `sqlite:${file}`;
    this.#file = file;
    this.#recordFile = stateRecordFileOf(file);
    this.#opening = {
      ...options,
      file,
      recordFile: this.#recordFile,
      legacyRecordFile: basename(file) === 'registry.db' ? join(dirname(file), LEGACY_STATE_RECORD) : undefined,
      remedy: REGISTRY_RESET_REMEDY,
      // Only the revision is compared: it never goes down, while instances come and go.
      compared: ['revision'],
      check: (db, judgeRecord) => checkAndPrepare(db, file, judgeRecord),
    };
    mkdirSync(dirname(file), { recursive: true });
    this.#db = openCheckedDatabase(this.#opening);
    this.#writeBatch = this.#prepareWrites();
    this.#recordIfPossible();
  }

  get closed(): boolean {
    return this.#closed;
  }

  async load(): Promise<StoreSnapshot> {
    if (this.#closed) throw closedStoreError();
    try {
      return this.#readAll();
    } catch (error) {
      if (!this.#opening.resetData || !isDamagedState(error)) throw error;
      this.#startAfresh(error);
      return { revision: 0, instances: [], outbox: [] };
    }
  }

  /** A row found damaged at load, with resetData: the file goes aside and an empty one takes its place. */
  #startAfresh(error: unknown): void {
    this.#db.close();
    this.#db = resetDamaged(this.#opening, error);
    this.#writeBatch = this.#prepareWrites();
    this.#recordedRevision = 0;
  }

  async write(batch: StoreBatch): Promise<void> {
    if (this.#closed) throw closedStoreError();
    this.#writeBatch(batch);
    // The first state worth recording: from now on an emptied file is noticed.
    if (this.#recordedRevision === 0) this.#recordIfPossible();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#recordIfPossible();
    this.#db.close();
  }

  /**
   * Writes the revision and instance count beside the file. A safety net: the batch is stored
   * whether or not it can be written, so a write is not failed for it.
   */
  #recordIfPossible(): void {
    const held = heldCounts(this.#db);
    if (recordIfPossible(this.#recordFile, held)) this.#recordedRevision = held.revision ?? 0;
  }

  #readAll(): StoreSnapshot {
    const revision = (this.#db.prepare("SELECT value FROM meta WHERE key = 'revision'").get() as { value: number } | undefined)?.value ?? 0;
    const instances = (this.#db.prepare('SELECT id, record FROM instances').all() as InstanceRow[]).map((row) => this.#toRecord(row));
    const outbox = (this.#db.prepare('SELECT seq, target, revision, prev_revision, added, removed FROM outbox ORDER BY seq').all() as OutboxRow[]).map(
      (row) => this.#toEntry(row),
    );
    const serviceMaintenance = (this.#db.prepare('SELECT service, entry FROM service_maintenance').all() as Array<{ service: string; entry: string }>).map((row) =>
      this.#toServiceMaintenance(row),
    );
    return { revision, instances, outbox, serviceMaintenance };
  }

  #toRecord(row: InstanceRow): InstanceRecord {
    const source: RowSource = { store: this.description, key: `instances/${row.id}`, refuse: this.#refuseRow };
    return parseInstanceRow(parseRowJson(row.record, source), source);
  }

  #toEntry(row: OutboxRow): OutboxEntry {
    const source: RowSource = { store: this.description, key: `outbox/${row.seq}`, refuse: this.#refuseRow };
    const entry = { target: row.target, revision: row.revision, prevRevision: row.prev_revision };
    return parseOutboxRow({ ...entry, added: parseRowJson(row.added, source), removed: parseRowJson(row.removed, source) }, source);
  }

  #toServiceMaintenance(row: { service: string; entry: string }): ServiceMaintenanceEntry {
    const source: RowSource = { store: this.description, key: `service_maintenance/${row.service}`, refuse: this.#refuseRow };
    return parseServiceMaintenanceRow(parseRowJson(row.entry, source), source);
  }

  readonly #refuseRow = (key: string, problem: string): RosterError => damaged(this.#file, `the row ${key} does not parse: ${problem}`);

  #prepareWrites(): (batch: StoreBatch) => void {
    const db = this.#db;
    const setRevision = db.prepare("INSERT INTO meta (key, value) VALUES ('revision', ?) ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)");
    const upsert = db.prepare('INSERT INTO instances (id, record) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET record = excluded.record');
    const remove = db.prepare('DELETE FROM instances WHERE id = ?');
    const enqueue = db.prepare('INSERT INTO outbox (target, revision, prev_revision, added, removed) VALUES (?, ?, ?, ?, ?)');
    const done = db.prepare('DELETE FROM outbox WHERE target = ? AND revision = ?');
    const putMaintenance = db.prepare('INSERT INTO service_maintenance (service, entry) VALUES (?, ?) ON CONFLICT (service) DO UPDATE SET entry = excluded.entry');
    const endMaintenance = db.prepare('DELETE FROM service_maintenance WHERE service = ?');
    return db.transaction((batch: StoreBatch) => {
      setRevision.run(batch.revision);
      for (const record of batch.upserts) upsert.run(record.id, JSON.stringify(record));
      for (const e of batch.enqueued) enqueue.run(e.target, e.revision, e.prevRevision, JSON.stringify(e.added), JSON.stringify(e.removed));
      for (const id of batch.deletes) remove.run(id);
      for (const { target, revision } of batch.done) done.run(target, revision);
      for (const { service, entry } of batch.serviceMaintenance ?? []) {
        if (entry) putMaintenance.run(service, JSON.stringify(entry));
        else endMaintenance.run(service);
      }
    });
  }
}

function damaged(file: string, problem: string): RosterError {
  return damagedState(file, problem, REGISTRY_RESET_REMEDY);
}

/** Checks the opened file (see checkState), then brings it to the schema, in WAL mode. */
function checkAndPrepare(db: Database.Database, file: string, judgeRecord: (held: StateCounts) => string | null): void {
  checkState(db, file, judgeRecord);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(SCHEMA);
  db.pragma(`user_version = ${SCHEMA_VERSION}`);
}

/** Refuses a file of a newer or unknown schema, with damaged pages, or whose state vanished. */
function checkState(db: Database.Database, file: string, judgeRecord: (held: StateCounts) => string | null): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) throw schemaTooNew(file, version, 'upgrade Roster or choose another --data-dir');
  const problem = quickCheckProblem(db) ?? schemaProblem(db, version) ?? judgeRecord(heldCounts(db));
  if (problem !== null) throw damaged(file, problem);
}

function schemaProblem(db: Database.Database, version: number): string | null {
  // Version 0 is a new file: it must hold nothing yet.
  if (version === 0) return tablesOf(db).size === 0 ? null : 'it holds tables but no schema version: it was not written by Roster';
  return missingTables(db, TABLES);
}

/** The revision and instance count the file holds (0 and 0 for a new file). */
function heldCounts(db: Database.Database): StateCounts {
  const tables = tablesOf(db);
  const revision = tables.has('meta') ? ((db.prepare("SELECT value FROM meta WHERE key = 'revision'").get() as { value: number } | undefined)?.value ?? 0) : 0;
  const instances = tables.has('instances') ? (db.prepare('SELECT count(*) AS n FROM instances').get() as { n: number }).n : 0;
  return { revision, instances };
}
