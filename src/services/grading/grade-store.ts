// The grade book in an embedded SQLite file: survives restarts, seeded once with the course's data.
// At open the file is checked (schema, SQLite's quick check, every row, the record kept beside
// it): damaged state is refused, naming the file and the way out, never re-seeded as new.
import { mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type Database from 'better-sqlite3';
import { damagedState, type RosterError, schemaTooNew, storeClosed } from '../../protocol/errors.js';
import type { Clock } from '../../shared/clock.js';
import { missingTables, openCheckedDatabase, quickCheckProblem, recordIfPossible, stateRecordFileOf, tablesOf, type StateCounts } from '../../shared/sqlite-state.js';
import { GRADE_LIMITS, GRADE_TYPES, type Grade, type GradeType, type NewStudent, type Student } from './domain.js';

/** What the grading app needs from a store. */
export interface GradeStore {
  listStudents(): Student[];
  getStudent(id: number): Student | undefined;
  /** Appends a grade; undefined when the student does not exist. */
  addGrade(studentId: number, grade: Grade): Grade | undefined;
  addStudent(student: NewStudent): Student;
  /** True once close() was called; every read and write is refused from then on. */
  readonly closed: boolean;
  /** Idempotent: every call resolves once the database is closed. */
  close(): Promise<void>;
}

export interface SqliteGradeStoreOptions {
  /** Database file; its folder is created. Default ./data/grading.db. ":memory:" for a throwaway one. */
  file?: string;
  /** Damaged state is moved aside as grading.db.damaged-<time> and the store starts afresh (seeded), instead of refusing. */
  resetData?: boolean;
  /** Stamps the name of a file moved aside. */
  clock?: Clock;
  /** Told when damaged state was moved aside, and why. */
  onReset?: (aside: string, problem: string) => void;
  /** Told what is wrong but does not stop the start: the file behind its record, a record that cannot be read. */
  onWarning?: (message: string) => void;
}

/** How an operator starts afresh from a damaged grading.db (said in every refusal). */
export const GRADING_RESET_REMEDY = '`roster grading --reset-data` (runGradingService({ resetData: true }))';

/** The record's old name, one per folder: taken over once by grading.db's own record (`grading.db.state.json`). */
const LEGACY_STATE_RECORD = 'grading.state.json';

export const DEFAULT_GRADING_DB = './data/grading.db';
export const SCHEMA_VERSION = 1;

/** The course's sample data: every student has these three grades, in this order. */
export const SAMPLE_STUDENTS: readonly Student[] = [
  sample(1, 'Nick', 'Carter', [85, 94, 82]),
  sample(2, 'Roberto', 'Baggio', [100, 100, 81]),
  sample(3, 'Emma', 'Stone', [67, 0, 75]),
  sample(4, 'Rachel', 'McAdams', [98, 99, 94]),
  sample(5, 'Kelly', 'Clarkson', [95, 100, 97]),
];

function sample(ID: number, FirstName: string, LastName: string, [quiz1, exam, quiz2]: number[]): Student {
  const Grades: Grade[] = [
    { Title: 'Quiz 1', Type: 'Quiz', Score: quiz1! },
    { Title: 'Final Exam', Type: 'Exam', Score: exam! },
    { Title: 'Quiz 2', Type: 'Quiz', Score: quiz2! },
  ];
  return { ID, FirstName, LastName, Grades };
}

// CHECKs repeat the domain rules so no writer can store what the API would refuse.
const SCHEMA_V1 = `
  CREATE TABLE students (
    id         INTEGER PRIMARY KEY,
    first_name TEXT NOT NULL CHECK (length(first_name) BETWEEN 1 AND 50),
    last_name  TEXT NOT NULL CHECK (length(last_name) BETWEEN 1 AND 50)
  );
  CREATE TABLE grades (
    id         INTEGER PRIMARY KEY,
    student_id INTEGER NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    title      TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 100),
    type       TEXT NOT NULL CHECK (type IN ('Quiz', 'Test', 'Exam')),
    score      REAL NOT NULL CHECK (score BETWEEN 0 AND 100),
    UNIQUE (student_id, position)
  );
`;

interface StudentRow {
  id: number;
  first_name: string;
  last_name: string;
}

interface GradeRow {
  student_id: number;
  title: string;
  type: GradeType;
  score: number;
}

export class SqliteGradeStore implements GradeStore {
  readonly file: string;
  readonly #recordFile: string | null;
  readonly #db: Database.Database;
  readonly #sql: ReturnType<typeof prepareStatements>;

  constructor(options: SqliteGradeStoreOptions = {}) {
    this.file = options.file ?? DEFAULT_GRADING_DB;
    const inMemory = this.file === ':memory:';
    if (!inMemory) mkdirSync(dirname(this.file), { recursive: true });
    this.#recordFile = inMemory ? null : stateRecordFileOf(this.file);
    const file = this.file;
    this.#db = openCheckedDatabase({
      ...options,
      file,
      recordFile: this.#recordFile,
      legacyRecordFile: basename(file) === 'grading.db' ? join(dirname(file), LEGACY_STATE_RECORD) : undefined,
      remedy: GRADING_RESET_REMEDY,
      compared: ['students', 'grades'],
      check: (db, judgeRecord) => checkAndMigrate(db, judgeRecord),
    });
    this.#sql = prepareStatements(this.#db);
    this.#recordIfPossible();
  }

  /** Writes the counts beside the file: an emptied or replaced file is noticed at the next open. */
  #recordIfPossible(): void {
    if (this.#db.open) recordIfPossible(this.#recordFile, heldCounts(this.#db));
  }

  get closed(): boolean {
    return !this.#db.open;
  }

  listStudents(): Student[] {
    this.#refuseIfClosed();
    // One read transaction: another process's insert cannot land between the two queries.
    return this.#db.transaction(() => this.#readAllStudents())();
  }

  getStudent(id: number): Student | undefined {
    this.#refuseIfClosed();
    return this.#db.transaction(() => this.#readStudent(id))();
  }

  #readAllStudents(): Student[] {
    const gradesByStudent = groupByStudent(this.#sql.allGrades.all() as GradeRow[]);
    return (this.#sql.allStudents.all() as StudentRow[]).map((row) => toStudent(row, gradesByStudent.get(row.id) ?? []));
  }

  #readStudent(id: number): Student | undefined {
    const row = this.#sql.studentById.get(id) as StudentRow | undefined;
    return row && toStudent(row, (this.#sql.gradesOf.all(id) as GradeRow[]).map(toGrade));
  }

  addGrade(studentId: number, grade: Grade): Grade | undefined {
    this.#refuseIfClosed();
    // One transaction: the existence check and the next position cannot race another writer.
    return this.#db
      .transaction((): Grade | undefined => {
        if (!this.#sql.studentExists.get(studentId)) return undefined;
        this.#sql.insertGrade.run({ studentId, title: grade.Title, type: grade.Type, score: grade.Score });
        return { Title: grade.Title, Type: grade.Type, Score: grade.Score };
      })
      .immediate();
  }

  addStudent(student: NewStudent): Student {
    this.#refuseIfClosed();
    const { lastInsertRowid } = this.#sql.insertStudent.run({ firstName: student.FirstName, lastName: student.LastName });
    return { ID: Number(lastInsertRowid), FirstName: student.FirstName, LastName: student.LastName, Grades: [] };
  }

  async close(): Promise<void> {
    if (!this.#db.open) return;
    this.#recordIfPossible();
    this.#db.close();
  }

  // better-sqlite3 would throw a TypeError about its connection; say what was closed instead.
  #refuseIfClosed(): void {
    if (!this.#db.open) throw storeClosed('the grade store');
  }
}

function damaged(file: string, problem: string): RosterError {
  return damagedState(file, problem, GRADING_RESET_REMEDY);
}

/** Checks and migrates the opened file. */
function checkAndMigrate(db: Database.Database, judgeRecord: (held: StateCounts) => string | null): void {
  // foreign_keys is per connection and off by default.
  db.pragma('foreign_keys = ON');
  migrate(db, judgeRecord);
  // After migrating, so a database we refuse is left exactly as it was. WAL: readers never wait for the writer.
  db.pragma('journal_mode = WAL');
}

/** Brings the schema to SCHEMA_VERSION; a new, empty database also gets the sample data (only then). */
function migrate(db: Database.Database, judgeRecord: (held: StateCounts) => string | null): void {
  // IMMEDIATE: two processes opening a new file at once cannot both create and seed it.
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw schemaTooNew(`grading database ${db.name}`, version, `this Roster knows up to schema ${SCHEMA_VERSION}: upgrade Roster`);
    }
    // The rows before SQLite's check: a row that breaks a rule is then named, not only its table.
    // Before seeding: an emptied grade book must not be seeded as if new.
    const problem = schemaProblem(db, version) ?? judgeRecord(heldCounts(db)) ?? rowProblem(db, version) ?? quickCheckProblem(db);
    if (problem !== null) throw damaged(db.name, problem);
    if (version === 0) {
      db.exec(SCHEMA_V1);
      seed(db);
    }
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

function schemaProblem(db: Database.Database, version: number): string | null {
  // Version 0 is a new file: it must hold nothing yet.
  if (version === 0) return tablesOf(db).size === 0 ? null : 'it holds tables but no schema version: it was not written by Roster';
  return missingTables(db, ['students', 'grades']);
}

/** The first row that is not what the grading service writes, described; null when all are. */
function rowProblem(db: Database.Database, version: number): string | null {
  if (version === 0) return null;
  const students = db.prepare('SELECT id, first_name, last_name FROM students').all() as StudentRow[];
  const badStudent = students.find((row) => !isName(row.first_name) || !isName(row.last_name));
  if (badStudent) return `the row students/${badStudent.id} does not hold a first and a last name of 1 to ${GRADE_LIMITS.nameLength} characters`;
  const grades = db.prepare('SELECT id, title, type, score FROM grades').all() as Array<GradeRow & { id: number }>;
  const badGrade = grades.find((row) => !isGrade(row));
  return badGrade ? `the row grades/${badGrade.id} is not a grade (a title, one of ${GRADE_TYPES.join(', ')}, a score from 0 to 100)` : null;
}

function isName(value: unknown): boolean {
  return typeof value === 'string' && value.length >= 1 && value.length <= GRADE_LIMITS.nameLength;
}

function isGrade(row: GradeRow): boolean {
  const { title, type, score } = row as { title: unknown; type: unknown; score: unknown };
  const typed = typeof title === 'string' && title.length >= 1 && title.length <= GRADE_LIMITS.titleLength && GRADE_TYPES.includes(type as GradeType);
  return typed && typeof score === 'number' && score >= GRADE_LIMITS.minScore && score <= GRADE_LIMITS.maxScore;
}

/** How many students and grades the file holds (0 and 0 for a new file). */
function heldCounts(db: Database.Database): StateCounts {
  const tables = tablesOf(db);
  const count = (table: string): number => (tables.has(table) ? (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n : 0);
  return { students: count('students'), grades: count('grades') };
}

function seed(db: Database.Database): void {
  const insertStudent = db.prepare('INSERT INTO students (id, first_name, last_name) VALUES (?, ?, ?)');
  const insertGrade = db.prepare('INSERT INTO grades (student_id, position, title, type, score) VALUES (?, ?, ?, ?, ?)');
  for (const student of SAMPLE_STUDENTS) {
    insertStudent.run(student.ID, student.FirstName, student.LastName);
    student.Grades.forEach((grade, index) => insertGrade.run(student.ID, index + 1, grade.Title, grade.Type, grade.Score));
  }
}

function prepareStatements(db: Database.Database) {
  return {
    allStudents: db.prepare('SELECT id, first_name, last_name FROM students ORDER BY id'),
    allGrades: db.prepare('SELECT student_id, title, type, score FROM grades ORDER BY student_id, position'),
    studentById: db.prepare('SELECT id, first_name, last_name FROM students WHERE id = ?'),
    studentExists: db.prepare('SELECT 1 FROM students WHERE id = ?'),
    gradesOf: db.prepare('SELECT student_id, title, type, score FROM grades WHERE student_id = ? ORDER BY position'),
    insertGrade: db.prepare(`
      INSERT INTO grades (student_id, position, title, type, score)
      VALUES (@studentId, (SELECT COALESCE(MAX(position), 0) + 1 FROM grades WHERE student_id = @studentId), @title, @type, @score)
    `),
    insertStudent: db.prepare('INSERT INTO students (first_name, last_name) VALUES (@firstName, @lastName)'),
  };
}

function groupByStudent(rows: GradeRow[]): Map<number, Grade[]> {
  const groups = new Map<number, Grade[]>();
  for (const row of rows) {
    const grades = groups.get(row.student_id) ?? [];
    grades.push(toGrade(row));
    groups.set(row.student_id, grades);
  }
  return groups;
}

function toStudent(row: StudentRow, grades: Grade[]): Student {
  return { ID: row.id, FirstName: row.first_name, LastName: row.last_name, Grades: grades };
}

function toGrade(row: GradeRow): Grade {
  return { Title: row.title, Type: row.type, Score: row.score };
}
