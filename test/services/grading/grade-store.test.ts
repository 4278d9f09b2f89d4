import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteGradeStore, type Grade, type Student } from '../../../src/services/grading/index.js';
import { RosterError } from '../../../src/protocol/index.js';

/** A database path in a fresh temp folder, removed after the test. */
function tempDbFile(t: TestContext, name = 'grading.db'): string {
  const dir = mkdtempSync(join(tmpdir(), 'roster-grading-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, name);
}

function openStore(t: TestContext, file: string): SqliteGradeStore {
  const store = new SqliteGradeStore({ file });
  t.after(() => store.close());
  return store;
}

/** Written out rather than imported: a change to the sample data must fail here. */
const COURSE_SAMPLE: [number, string, string, number, number, number][] = [
  [1, 'Nick', 'Carter', 85, 94, 82],
  [2, 'Roberto', 'Baggio', 100, 100, 81],
  [3, 'Emma', 'Stone', 67, 0, 75],
  [4, 'Rachel', 'McAdams', 98, 99, 94],
  [5, 'Kelly', 'Clarkson', 95, 100, 97],
];

const expectedSample: Student[] = COURSE_SAMPLE.map(([ID, FirstName, LastName, quiz1, exam, quiz2]) => ({
  ID,
  FirstName,
  LastName,
  Grades: [
    { Title: 'Quiz 1', Type: 'Quiz', Score: quiz1 },
    { Title: 'Final Exam', Type: 'Exam', Score: exam },
    { Title: 'Quiz 2', Type: 'Quiz', Score: quiz2 },
  ],
}));

const quiz3: Grade = { Title: 'Quiz 3', Type: 'Quiz', Score: 77.5 };

test('a new database holds the course sample data, in order', (t) => {
  const store = openStore(t, tempDbFile(t));
  assert.deepEqual(store.listStudents(), expectedSample);
  assert.deepEqual(store.getStudent(3), expectedSample[2]);
});

test('creates the folder of the database file', (t) => {
  const file = join(tempDbFile(t, 'nested/deeper'), 'grading.db');
  openStore(t, file);
  assert.ok(existsSync(file));
});

test('WAL, foreign keys and a schema version are set', (t) => {
  const file = tempDbFile(t);
  openStore(t, file);
  const db = new Database(file, { readonly: true });
  t.after(() => db.close());
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(db.pragma('user_version', { simple: true }), 1);
  assert.equal((db.pragma('foreign_key_list(grades)') as { table: string }[])[0]?.table, 'students');
});

test('an added grade survives a restart, after the existing ones, and the sample is not seeded again', async (t) => {
  const file = tempDbFile(t);
  const first = new SqliteGradeStore({ file });
  assert.deepEqual(first.addGrade(1, quiz3), quiz3);
  await first.close();

  const reopened = openStore(t, file);
  assert.deepEqual(reopened.getStudent(1)?.Grades, [...expectedSample[0]!.Grades, quiz3]);
  assert.equal(reopened.listStudents().length, 5);
});

test('seeds only a new database: deleted rows stay deleted after a restart', async (t) => {
  const file = tempDbFile(t);
  await new SqliteGradeStore({ file }).close();
  const db = new Database(file);
  db.prepare("DELETE FROM grades WHERE student_id = 2 AND title = 'Quiz 1'").run();
  db.prepare('DELETE FROM students WHERE id = 5').run();
  db.close();

  const store = openStore(t, file);
  assert.deepEqual(store.getStudent(2)?.Grades.map((g) => g.Title), ['Final Exam', 'Quiz 2']);
  assert.equal(store.getStudent(5), undefined);
  assert.deepEqual(store.listStudents().map((s) => s.ID), [1, 2, 3, 4]);
});

test('grades keep their insertion order', (t) => {
  const store = openStore(t, tempDbFile(t));
  const titles = ['B', 'A', 'C'];
  for (const Title of titles) store.addGrade(4, { Title, Type: 'Test', Score: 50 });
  assert.deepEqual(store.getStudent(4)?.Grades.slice(3).map((g) => g.Title), titles);
});

test('a grade for an unknown student is refused and nothing is stored', (t) => {
  const store = openStore(t, tempDbFile(t));
  const before = store.listStudents();
  assert.equal(store.addGrade(99, quiz3), undefined);
  assert.deepEqual(store.listStudents(), before);
});

test('the database refuses what the domain refuses, even past the API', (t) => {
  const store = openStore(t, tempDbFile(t));
  const bad = { Title: 'Homework 1', Type: 'Homework', Score: 50 } as unknown as Grade;
  assert.throws(() => store.addGrade(1, bad), /CHECK constraint failed/);
  assert.throws(() => store.addGrade(1, { ...quiz3, Score: 101 }), /CHECK constraint failed/);
  assert.equal(store.getStudent(1)?.Grades.length, 3);
});

test('a new student gets the next ID, no grades, and survives a restart', async (t) => {
  const file = tempDbFile(t);
  const first = new SqliteGradeStore({ file });
  const ada = first.addStudent({ FirstName: 'Ada', LastName: 'Lovelace' });
  await first.close();
  assert.deepEqual(ada, { ID: 6, FirstName: 'Ada', LastName: 'Lovelace', Grades: [] });

  const reopened = openStore(t, file);
  assert.deepEqual(reopened.getStudent(6), ada);
  assert.deepEqual(reopened.addGrade(6, quiz3), quiz3);
});

test('refuses a database written by a newer schema and leaves it untouched', (t) => {
  const file = tempDbFile(t);
  const db = new Database(file);
  db.pragma('user_version = 99');
  db.close();

  assert.throws(() => new SqliteGradeStore({ file }), (error: unknown) => error instanceof RosterError && error.code === 'SCHEMA_TOO_NEW' && /newer Roster \(schema 99\)/.test(error.message));
  const after = new Database(file, { readonly: true });
  t.after(() => after.close());
  assert.equal(after.pragma('user_version', { simple: true }), 99);
  assert.equal(after.pragma('journal_mode', { simple: true }), 'delete');
  assert.deepEqual(after.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all(), []);
});

test('close() is idempotent: calls at once and later all resolve, and the store stays closed', async (t) => {
  const store = new SqliteGradeStore({ file: tempDbFile(t) });
  assert.equal(store.closed, false);
  await Promise.all([store.close(), store.close()]);
  await store.close();
  assert.equal(store.closed, true);
});

test('reads and writes after close are refused with STORE_CLOSED, not a driver error', async (t) => {
  const store = new SqliteGradeStore({ file: tempDbFile(t) });
  await store.close();
  const refused = { name: 'RosterError', code: 'STORE_CLOSED', message: /the grade store is closed/ };
  assert.throws(() => store.listStudents(), refused);
  assert.throws(() => store.getStudent(1), refused);
  assert.throws(() => store.addGrade(1, quiz3), refused);
  assert.throws(() => store.addStudent({ FirstName: 'Ada', LastName: 'Lovelace' }), refused);
});
