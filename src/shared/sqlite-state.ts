// What the SQLite files of Roster (the registry's registry.db, the grading service's grading.db)
// share at start: the checks that tell damaged state from a new file, the small record kept
// beside the database, and moving a damaged file aside. A damaged file is refused, never taken
// as an empty start: an emptied file or a dropped table would otherwise look like a fresh one.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type Database from 'better-sqlite3';

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
 * "it holds revision 0, instances 0 where <record> recorded revision 512, instances 500 …", or
 * null when none of the `compared` counts (those that never go down) is below its record.
 */
export function shortOfRecord(held: StateCounts, record: StateCounts | null, recordFile: string, compared: readonly string[]): string | null {
  if (record === null) return null;
  if (!compared.some((key) => (held[key] ?? 0) < (record[key] ?? 0))) return null;
  const keys = Object.keys(record);
  const list = (counts: StateCounts): string => keys.map((key) => `${key} ${counts[key] ?? 0}`).join(', ');
  return `it holds ${list(held)} where ${recordFile} recorded ${list(record)} at its last write: the file was emptied, deleted, replaced or truncated`;
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
