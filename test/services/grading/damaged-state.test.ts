// A damaged grading.db is refused at start with a message naming the file, what is wrong and
// what to do, never re-seeded as if new; resetData starts afresh and keeps the damaged file aside.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readdirSync, statSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { SqliteGradeStore } from '../../../src/services/grading/grade-store.js';
import { runGradingService } from '../../../src/services/grading/main.js';
import { NodeProcess, ROSTER_CLI, scratchDir } from '../../helpers/processes.js';

/** A data folder whose grading.db holds the sample and one more student, closed cleanly. */
async function dataDirWithGrades(t: TestContext): Promise<{ dataDir: string; file: string }> {
  const dataDir = scratchDir(t, 'roster-grading-damaged-');
  const file = join(dataDir, 'grading.db');
  const store = new SqliteGradeStore({ file });
  const student = store.addStudent({ FirstName: 'Ada', LastName: 'Lovelace' });
  for (let i = 0; i < 200; i++) store.addGrade(student.ID, { Title: `Quiz ${i} ${'x'.repeat(80)}`, Type: 'Quiz', Score: i % 100 });
  await store.close();
  return { dataDir, file };
}

function withDatabase(file: string, change: (db: Database.Database) => void): void {
  const db = new Database(file);
  try {
    change(db);
  } finally {
    db.close();
  }
}

function scribble(file: string, offset: number, bytes: number): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, Buffer.alloc(bytes, 0x5a), 0, bytes, offset);
  } finally {
    closeSync(fd);
  }
}

/** The service refuses to start; the message names the file, the problem and both remedies. */
async function assertRefused(dataDir: string, file: string, problem: RegExp): Promise<void> {
  const start = runGradingService({ dataDir, port: 0, host: '127.0.0.1', registryUrl: 'http://127.0.0.1:9', handleSignals: false, logger: pino({ level: 'silent' }) });
  await assert.rejects(start, (error: Error & { code?: string }) => {
    assert.equal(error.code, 'STORE_DAMAGED');
    assert.ok(error.message.startsWith(`${file} is damaged: `), error.message);
    assert.match(error.message, problem);
    assert.match(error.message, /Restore it from a backup/);
    assert.match(error.message, /roster grading --reset-data/);
    assert.match(error.message, /resetData: true/);
    return true;
  });
}

/** resetData: a new, seeded grade book; the damaged file kept aside, byte for byte. */
async function assertResetKeepsItAside(dataDir: string, file: string): Promise<void> {
  const sizeBefore = statSync(file).size;
  const resets: string[] = [];
  const store = new SqliteGradeStore({ file, resetData: true, onReset: (aside) => resets.push(aside) });
  assert.equal(store.listStudents().length, 5, 'the course sample, as on a first start');
  await store.close();
  const aside = readdirSync(dataDir).filter((name) => /^grading\.db\.damaged-[\dT-]+Z$/.test(name));
  assert.equal(aside.length, 1, readdirSync(dataDir).join(', '));
  assert.deepEqual(resets, [join(dataDir, aside[0]!)]);
  assert.equal(statSync(join(dataDir, aside[0]!)).size, sizeBefore);
  await new SqliteGradeStore({ file }).close();
}

test('an emptied grading.db is refused, not seeded again', async (t) => {
  const { dataDir, file } = await dataDirWithGrades(t);
  truncateSync(file, 0);
  await assertRefused(dataDir, file, /holds students 0, grades 0 where .*grading\.state\.json recorded students 6, grades 215/);
  await assertResetKeepsItAside(dataDir, file);
});

test('a dropped table is refused', async (t) => {
  const { dataDir, file } = await dataDirWithGrades(t);
  withDatabase(file, (db) => db.exec('DROP TABLE grades'));
  await assertRefused(dataDir, file, /the table grades is missing/);
  await assertResetKeepsItAside(dataDir, file);
});

test('garbage bytes in the pages are refused naming the file', async (t) => {
  const { dataDir, file } = await dataDirWithGrades(t);
  assert.ok(statSync(file).size >= 4 * 4096);
  scribble(file, 4096, 3 * 4096);
  await assertRefused(dataDir, file, /integrity check failed|malformed|not a database/);
  await assertResetKeepsItAside(dataDir, file);
});

test('a row that is not a grade is refused naming the row', async (t) => {
  const { dataDir, file } = await dataDirWithGrades(t);
  withDatabase(file, (db) => {
    db.pragma('ignore_check_constraints = ON');
    db.prepare("UPDATE grades SET type = 'Essay' WHERE id = 3").run();
  });
  await assertRefused(dataDir, file, /the row grades\/3 is not a grade/);
  await assertResetKeepsItAside(dataDir, file);
});

test('roster grading exits 1 naming the file and --reset-data; with --reset-data it gets past the store', { timeout: 30_000 }, async (t) => {
  const { dataDir, file } = await dataDirWithGrades(t);
  truncateSync(file, 0);
  // No registry answers here: a start that gets past the store fails later, for that reason.
  const args = [ROSTER_CLI, 'grading', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--registry', 'http://127.0.0.1:9', '--token', 'grading-secret-0123456789'];
  const refused = new NodeProcess(t, args, { ROSTER_LOG_FORMAT: 'json' });
  const [code] = await refused.exited;
  assert.equal(code, 1);
  assert.ok(refused.output.includes(`${file} is damaged: `), refused.output);
  assert.match(refused.output, /roster grading --reset-data/);

  const reset = new NodeProcess(t, [...args, '--reset-data'], { ROSTER_LOG_FORMAT: 'json' });
  await reset.waitForLine(/moved aside as .*grading\.db\.damaged-/);
  reset.kill('SIGKILL');
  await reset.exited;
  assert.equal(readdirSync(dataDir).filter((name) => name.startsWith('grading.db.damaged-')).length, 1);
});
