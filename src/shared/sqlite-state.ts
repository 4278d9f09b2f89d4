// What the SQLite files of Roster (the registry's registry.db, the grading service's grading.db)
// share at start: the checks that tell damaged state from a new file, the small record kept
// beside the database, and moving a damaged file aside. A damaged file is refused, never taken
// as an empty start: an emptied file or a dropped table would otherwise look like a fresh one.
// A file merely behind its record (a power cut lost the last batches: WAL, synchronous=NORMAL)
// starts with a warning, and so does a healthy file beside a record that cannot be read.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';
import { damagedState, RosterError } from '../protocol/errors.js';
import { systemClock, type Clock } from './clock.js';

/**
 * What the database held at its last write or close (counts that only grow, or a revision).
 * A database that holds less than its record says was emptied, replaced or cut short.
 */
export type StateCounts = Record<string, number>;

/** SQLite's codes for a file that is not a database or whose pages are damaged. */
const DAMAGE_CODES = /^SQLITE_(CORRUPT|NOTADB)/;

/** True for "database disk image is malformed", "file is not a database" and their kin. */
export function isSqliteDamage(error: unknown): boolean {
  return DAMAGE_CODES.test(String((error as { code?: unknown })?.code ?? ''));
}

/** SQLite's quick integrity check: null when it finds nothing, else its first findings. */
export function quickCheckProblem(db: Database.Database): string | null {
  const findings = (db.pragma('quick_check') as Array<{ quick_check: string }>).map((row) => row.quick_check);
  if (findings.length === 1 && findings[0] === 'ok') return null;
  return `SQLite's integrity check failed (${findings.slice(0, 3).join('; ')})`;
}

/** The tables the file holds. */
export function tablesOf(db: Database.Database): Set<string> {
  const rows = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>;
  return new Set(rows.map((row) => row.name));
}

/** The tables of `expected` the file lacks, as a phrase ("the table instances is missing"), or null. */
export function missingTables(db: Database.Database, expected: readonly string[]): string | null {
  const present = tablesOf(db);
  const missing = expected.filter((name) => !present.has(name));
  if (missing.length === 0) return null;
  return `the table${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing`;
}

/** The record beside a database, or null when there is none yet; one that cannot be read is a problem. */
export function readStateRecord(file: string): StateCounts | null {
  if (!existsSync(file)) return null;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`its record ${file} cannot be read (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || !Object.values(value).every((n) => Number.isInteger(n) && (n as number) >= 0)) {
    throw new Error(`its record ${file} does not hold counts`);
  }
  return value as StateCounts;
}

/** Written whole, then renamed over the old one: a reader never sees half a record. */
export function writeStateRecord(file: string, counts: StateCounts): void {
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(counts)}\n`, { mode: 0o600 });
  renameSync(temporary, file);
}

/**
 * "it holds revision 0, instances 0 where <record> recorded revision 512, instances 500 at its
 * last write", or null when none of the `compared` counts is below its record.
 */
export function shortOfRecord(held: StateCounts, record: StateCounts | null, recordFile: string, compared: readonly string[]): string | null {
  if (record === null) return null;
  if (!compared.some((key) => (held[key] ?? 0) < (record[key] ?? 0))) return null;
  const keys = Object.keys(record);
  const list = (counts: StateCounts): string => keys.map((key) => `${key} ${counts[key] ?? 0}`).join(', ');
  return `it holds ${list(held)} where ${recordFile} recorded ${list(record)} at its last write`;
}

/**
 * Moves the database, its WAL and shared-memory files and its record aside as
 * `<name>.damaged-<time>` (the WAL keeps its `-wal` suffix so the copy opens with it). Returns
 * the database's new name. Nothing is deleted.
 */
export function moveAside(file: string, recordFile: string, now: number): string {
  const stamp = new Date(now).toISOString().replace(/[:.]/g, '-');
  const aside = `${file}.damaged-${stamp}`;
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(file + suffix)) renameSync(file + suffix, aside + suffix);
  }
  if (existsSync(recordFile)) renameSync(recordFile, `${recordFile}.damaged-${stamp}`);
  return aside;
}

/** The record beside `file`: named after the database (`registry.db.state.json`), one per database. */
export function stateRecordFileOf(file: string): string {
  return `${file}.state.json`;
}

/** How a store opens its file: checked, its damage refused or (with resetData) moved aside. */
export interface CheckedDatabaseOptions {
  file: string;
  /** The record beside the file; null for a file that keeps none (":memory:"). */
  recordFile: string | null;
  /** The record's name before it was named after the database: taken over once if it is there. */
  legacyRecordFile?: string;
  /** How to start afresh, said in every refusal. */
  remedy: string;
  /** Damaged state is moved aside and a new file opened, instead of refusing. */
  resetData?: boolean;
  /** Stamps the name of a file moved aside. */
  clock?: Clock;
  /** Told when damaged state was moved aside, and why. */
  onReset?: (aside: string, problem: string) => void;
  /** Told what is wrong but does not stop the start (a record behind or unreadable). */
  onWarning?: (message: string) => void;
  /** The counts that never go down by themselves (a revision): one below its record is noticed. */
  compared: readonly string[];
  /**
   * Checks and prepares the opened file; throws `damaged(problem)` for damaged state. Before it
   * creates anything in a new file it asks `judgeRecord` about what the file holds.
   */
  check: (db: Database.Database, judgeRecord: (held: StateCounts) => string | null) => void;
}

/** Opens `file` and checks it; damaged state is refused, or with resetData moved aside for a new file. */
export function openCheckedDatabase(options: CheckedDatabaseOptions): Database.Database {
  if (options.recordFile !== null && options.legacyRecordFile) adoptLegacyRecord(options.legacyRecordFile, options.recordFile);
  try {
    return openAndCheck(options, recordJudge(options));
  } catch (error) {
    return resetDamaged(options, error);
  }
}

/**
 * With resetData, moves the damaged file (and its record) aside and opens a new one; without it,
 * or for anything but damaged state, throws `error` again.
 */
export function resetDamaged(options: CheckedDatabaseOptions, error: unknown): Database.Database {
  if (!options.resetData || options.recordFile === null || !isDamagedState(error)) throw error;
  const aside = moveAside(options.file, options.recordFile, (options.clock ?? systemClock).now());
  options.onReset?.(aside, (error as Error).message);
  return openAndCheck(options, () => null);
}

export function isDamagedState(error: unknown): boolean {
  return error instanceof RosterError && error.code === 'STORE_DAMAGED';
}

/**
 * Writes the counts beside the file. A safety net: a folder gone or read-only neither fails the
 * store nor keeps the file open; it is written again at the next open and close.
 */
export function recordIfPossible(recordFile: string | null, held: StateCounts): boolean {
  if (recordFile === null) return false;
  try {
    writeStateRecord(recordFile, held);
    return true;
  } catch {
    return false;
  }
}

function openAndCheck(options: CheckedDatabaseOptions, judgeRecord: (held: StateCounts) => string | null): Database.Database {
  let db: Database.Database | undefined;
  try {
    db = new (betterSqlite3())(options.file);
    options.check(db, judgeRecord);
    return db;
  } catch (error) {
    db?.close();
    // SQLite's own "malformed" and "not a database" name the file too.
    if (isSqliteDamage(error)) throw damagedState(options.file, `SQLite reports "${(error as Error).message}"`, options.remedy);
    throw error;
  }
}

/**
 * What the record says of the held counts: a problem when the state vanished (the file holds
 * nothing where its record says it held something: emptied, deleted or replaced); a warning, and
 * a start, when it is merely behind (a power cut may lose the last batches while the record,
 * written at open and close, survives).
 */
function recordJudge(options: CheckedDatabaseOptions): (held: StateCounts) => string | null {
  const { recordFile } = options;
  if (recordFile === null) return () => null;
  const record = readRecordOrWarn(recordFile, options.onWarning);
  return (held) => {
    const short = shortOfRecord(held, record, recordFile, options.compared);
    if (short === null) return null;
    if (Object.values(held).every((count) => count === 0)) return `${short}: the file was emptied, deleted, replaced or truncated`;
    options.onWarning?.(`${options.file} is behind its record: ${short}; the last writes before a power cut or crash may be lost. Starting with what it holds`);
    return null;
  };
}

/** The record, or null with a warning when it cannot be read: it is rewritten once the file is open. */
function readRecordOrWarn(recordFile: string, warn: ((message: string) => void) | undefined): StateCounts | null {
  try {
    return readStateRecord(recordFile);
  } catch (error) {
    warn?.(`${(error as Error).message}: it is not used and is written anew`);
    return null;
  }
}

/** The record of a database whose record was kept under the old, per-folder name: renamed once. */
function adoptLegacyRecord(legacy: string, recordFile: string): void {
  if (existsSync(recordFile) || !existsSync(legacy)) return;
  try {
    renameSync(legacy, recordFile);
  } catch {
    // Not ours to move (read-only folder): the file starts without a record and writes one.
  }
}

/**
 * better-sqlite3 (a native addon) is loaded when the first file opens, not when a module that
 * may open one is imported: a registry on another store never loads it.
 */
function betterSqlite3(): typeof Database {
  return createRequire(import.meta.url)('better-sqlite3') as typeof Database;
}
