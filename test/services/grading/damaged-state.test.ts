// Damaged state of grading.db: the shared contract (test/helpers/damaged-state-contract.ts),
// never re-seeded as if new; and what only the grading service does: runGradingService and
// `roster grading` refusing with the message and getting past the store with --reset-data.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { SAMPLE_STUDENTS, SqliteGradeStore } from '../../../src/services/grading/grade-store.js';
import { runGradingService } from '../../../src/services/grading/main.js';
import { NodeProcess, ROSTER_CLI, scratchDir } from '../../helpers/processes.js';
import { damagedStateContract, type OpenOptions } from '../../helpers/damaged-state-contract.js';

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

async function openStore(file: string, options: OpenOptions = {}) {
  const store = new SqliteGradeStore({ file, ...options });
  const students = store.listStudents().length;
  return { isFresh: () => students === SAMPLE_STUDENTS.length, close: () => store.close() };
}

damagedStateContract({
  name: 'grading.db',
  withState: dataDirWithGrades,
  open: openStore,
  table: 'grades',
  damageRow: (db) => {
    db.pragma('ignore_check_constraints = ON');
    db.prepare("UPDATE grades SET type = 'Essay' WHERE id = 3").run();
  },
  rowProblem: /the row grades\/3 is not a grade/,
  remedy: /roster grading --reset-data/,
  legacyRecord: 'grading.state.json',
});

test('runGradingService refuses an emptied grading.db, naming the file and the remedy', async (t) => {
  const { dataDir, file } = await dataDirWithGrades(t);
  truncateSync(file, 0);
  const start = runGradingService({ dataDir, port: 0, host: '127.0.0.1', registryUrl: 'http://127.0.0.1:9', handleSignals: false, logger: pino({ level: 'silent' }) });
  await assert.rejects(start, (error: Error & { code?: string }) => {
    assert.equal(error.code, 'STORE_DAMAGED');
    assert.ok(error.message.startsWith(`${file} is damaged: `), error.message);
    assert.match(error.message, /holds students 0, grades 0 where .*grading\.db\.state\.json recorded students 6, grades 215/);
    assert.match(error.message, /roster grading --reset-data/);
    return true;
  });
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
