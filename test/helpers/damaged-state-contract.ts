// What every SQLite file of Roster does with damaged state, written once and run against each
// (the registry's registry.db, the grading service's grading.db): state that vanished is
// refused naming the file, the problem and the way out; resetData moves it aside and starts
// afresh; a file merely behind its record, or a record that cannot be read beside a healthy
// file, starts with a warning; the record is named after its database.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, renameSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import Database from 'better-sqlite3';

export interface OpenedStore {
  /** True when the store holds what a new file holds (nothing, or the seed). */
  isFresh(): boolean;
  close(): Promise<void>;
}

export interface OpenOptions {
  resetData?: boolean;
  onReset?: (aside: string, problem: string) => void;
  onWarning?: (message: string) => void;
}

export interface DamagedStateSubject {
  /** What the tests are called by: "registry.db". */
  name: string;
  /** A data folder whose database (`file`, named `name`) holds state, closed cleanly. */
  withState(t: TestContext): Promise<{ dataDir: string; file: string }>;
  /** Opens the store on `file` and reads all it holds; throws what the store refuses. */
  open(file: string, options?: OpenOptions): Promise<OpenedStore>;
  /** A table the store cannot do without. */
  table: string;
  /** Makes one row something the store never writes; `rowProblem` is how the refusal names it. */
  damageRow(db: Database.Database): void;
  rowProblem: RegExp;
  /** The way out the refusal names ("roster registry --reset-data"). */
  remedy: RegExp;
  /** The record's name before it was named after the database ("registry.state.json"). */
  legacyRecord: string;
}

export function damagedStateContract(subject: DamagedStateSubject): void {
  const { name } = subject;

  async function assertRefused(file: string, problem: RegExp): Promise<void> {
    await assert.rejects(subject.open(file), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'STORE_DAMAGED');
      assert.ok(error.message.startsWith(`${file} is damaged: `), error.message);
      assert.match(error.message, problem);
      assert.match(error.message, /Restore it from a backup/);
      assert.match(error.message, subject.remedy);
      assert.match(error.message, /resetData: true/);
      return true;
    });
    assert.ok(statSync(file).isFile(), 'a refusal leaves the file where it was');
  }

  /** resetData starts afresh and keeps the damaged file (and its record) aside, untouched. */
  async function assertResetKeepsItAside(dataDir: string, file: string): Promise<void> {
    const sizeBefore = statSync(file).size;
    const resets: string[] = [];
    const store = await subject.open(file, { resetData: true, onReset: (aside) => resets.push(aside) });
    assert.equal(store.isFresh(), true, 'afresh, as on a first start');
    await store.close();
    const stamped = new RegExp(`^${name.replace('.', '\\.')}\\.damaged-\\d{4}-\\d\\d-\\d\\dT[\\d-]+Z$`);
    const aside = readdirSync(dataDir).filter((entry) => stamped.test(entry));
    assert.equal(aside.length, 1, `one damaged copy kept aside: ${readdirSync(dataDir).join(', ')}`);
    assert.deepEqual(resets, [join(dataDir, aside[0]!)]);
    assert.equal(statSync(join(dataDir, aside[0]!)).size, sizeBefore, 'the damaged file is moved, not changed');
    // The fresh state is accepted at the next start, without the option.
    await (await subject.open(file)).close();
  }

  const recordOf = (file: string): Record<string, number> => JSON.parse(readFileSync(`${file}.state.json`, 'utf8')) as Record<string, number>;
  const listed = (counts: Record<string, number>): string => Object.entries(counts).map(([key, n]) => `${key} ${n}`).join(', ');

  test(`${name}: its record is named after it; another database in the folder keeps its own`, async (t) => {
    const { dataDir, file } = await subject.withState(t);
    assert.ok(existsSync(`${file}.state.json`), readdirSync(dataDir).join(', '));
    assert.equal(existsSync(join(dataDir, subject.legacyRecord)), false);
    const other = await subject.open(join(dataDir, `other-${name}`));
    assert.equal(other.isFresh(), true, 'a new file beside one with state is new, not emptied');
    await other.close();
    assert.ok(existsSync(join(dataDir, `other-${name}.state.json`)));
  });

  test(`${name}: emptied, it is refused, its record saying what was there`, async (t) => {
    const { dataDir, file } = await subject.withState(t);
    const record = recordOf(file);
    truncateSync(file, 0);
    const zeros = Object.fromEntries(Object.keys(record).map((key) => [key, 0]));
    const said = `holds ${listed(zeros)} where ${file}.state.json recorded ${listed(record)} at its last write: the file was emptied`;
    await assertRefused(file, new RegExp(said.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
    await assertResetKeepsItAside(dataDir, file);
  });

  test(`${name}: the record under its old, per-folder name is taken over once`, async (t) => {
    const { dataDir, file } = await subject.withState(t);
    renameSync(`${file}.state.json`, join(dataDir, subject.legacyRecord));
    truncateSync(file, 0);
    await assertRefused(file, /the file was emptied/);
    assert.ok(existsSync(`${file}.state.json`), 'the old record now has the new name');
    assert.equal(existsSync(join(dataDir, subject.legacyRecord)), false);
  });

  test(`${name}: behind its record (the last writes lost), it starts with a warning naming both`, async (t) => {
    const { file } = await subject.withState(t);
    const held = recordOf(file);
    const recorded = Object.fromEntries(Object.entries(held).map(([key, n]) => [key, n + 5]));
    writeFileSync(`${file}.state.json`, JSON.stringify(recorded));
    const warnings: string[] = [];
    const store = await subject.open(file, { onWarning: (message) => warnings.push(message) });
    assert.equal(store.isFresh(), false, 'what the file holds is kept');
    await store.close();
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.ok(warnings[0]!.startsWith(`${file} is behind its record: it holds ${listed(held)} where ${file}.state.json recorded ${listed(recorded)}`), warnings[0]);
    assert.deepEqual(recordOf(file), held, 'the record is brought back to what the file holds');
  });

  test(`${name}: a record that cannot be read beside a healthy file: a warning, and it is written anew`, async (t) => {
    const { file } = await subject.withState(t);
    const held = recordOf(file);
    scribble(`${file}.state.json`, 0, 4);
    const warnings: string[] = [];
    const store = await subject.open(file, { onWarning: (message) => warnings.push(message) });
    assert.equal(store.isFresh(), false);
    await store.close();
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, new RegExp(`${basename(file).replace('.', '\\.')}\\.state\\.json cannot be read .*written anew`));
    assert.deepEqual(recordOf(file), held);
    writeFileSync(`${file}.state.json`, '[1, "two"]');
    await (await subject.open(file, { onWarning: (message) => warnings.push(message) })).close();
    assert.match(warnings[1] ?? '', /does not hold counts/);
    assert.deepEqual(recordOf(file), held);
  });

  test(`${name}: a dropped table is refused, not recreated empty`, async (t) => {
    const { dataDir, file } = await subject.withState(t);
    withDatabase(file, (db) => db.exec(`DROP TABLE ${subject.table}`));
    await assertRefused(file, new RegExp(`the table ${subject.table} is missing`));
    await assertResetKeepsItAside(dataDir, file);
  });

  test(`${name}: garbage bytes in the pages are refused naming the file`, async (t) => {
    const { dataDir, file } = await subject.withState(t);
    const pageSize = 4096;
    assert.ok(statSync(file).size >= 4 * pageSize, 'the file spans several pages');
    scribble(file, pageSize, 3 * pageSize);
    await assertRefused(file, /integrity check failed|malformed|not a database/);
    await assertResetKeepsItAside(dataDir, file);
  });

  test(`${name}: a row the store never writes is refused naming the row`, async (t) => {
    const { dataDir, file } = await subject.withState(t);
    withDatabase(file, (db) => subject.damageRow(db));
    await assertRefused(file, subject.rowProblem);
    await assertResetKeepsItAside(dataDir, file);
  });
}

export function withDatabase(file: string, change: (db: Database.Database) => void): void {
  const db = new Database(file);
  try {
    change(db);
  } finally {
    db.close();
  }
}

/** Writes `bytes` of garbage over the file from `offset` on. */
export function scribble(file: string, offset: number, bytes: number): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, Buffer.alloc(bytes, 0xa5), 0, bytes, offset);
  } finally {
    closeSync(fd);
  }
}
