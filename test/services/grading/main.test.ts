import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { RunningRegistry } from '../../../src/registry/start-registry.js';
import { runGradingService, SqliteGradeStore } from '../../../src/services/grading/index.js';
import { runLogService } from '../../../src/services/log/index.js';
import { secureRegistry, type PartTokens } from '../secure-registry.js';

/** A secure registry (the default); each service runs with its own part's token. */
async function registry(t: TestContext): Promise<RunningRegistry & { tokens: PartTokens }> {
  const { registry: running, tokens } = await secureRegistry(t, { health: { intervalMs: 60_000 } });
  return Object.assign(running, { tokens });
}

/** Files of this process open under `dir` (Linux: /proc/self/fd): a store left open shows up here. */
function openFilesUnder(dir: string): string[] {
  const targets = readdirSync('/proc/self/fd').map((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return ''; // the fd of readdir itself is gone by now
    }
  });
  return targets.filter((target) => target.startsWith(dir));
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'roster-grading-main-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('runs as GradingService requiring LogService, serves the course routes, and deregisters on close', async (t) => {
  const reg = await registry(t);
  const dataDir = tempDir(t);
  const grading = await runGradingService({ port: 0, host: '127.0.0.1', dataDir, registryUrl: reg.url, token: reg.tokens.grading, handleSignals: false, logger: pino({ level: 'silent' }) });
  t.after(() => grading.close());
  assert.notDeepEqual(openFilesUnder(dataDir), [], 'the check below can see an open database');

  const [instance] = reg.registry.instances();
  assert.equal(instance?.service, 'GradingService');
  assert.equal(instance?.url, grading.url);
  assert.deepEqual(instance?.requires, ['LogService']);

  const added = await fetch(`${grading.url}/students/2/grades`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"Title":"Quiz 3","Type":"Quiz","Score":60}' });
  assert.equal(added.status, 201);
  assert.equal(await added.text(), '{"Title":"Quiz 3","Type":"Quiz","Score":60}');

  await grading.close();
  await grading.close();
  assert.deepEqual(reg.registry.instances(), []);
  assert.deepEqual(openFilesUnder(dataDir), [], 'the database is closed');
  const reopened = new SqliteGradeStore({ file: join(dataDir, 'grading.db') });
  t.after(() => reopened.close());
  assert.equal(reopened.getStudent(2)?.Grades.at(-1)?.Title, 'Quiz 3');
});

// (A registry that cannot be reached is waited for instead: see test/service/start-before-registry.test.ts.)
test('a registry that refuses the registration: the start fails and the database is closed', async (t) => {
  const reg = await registry(t);
  const dataDir = tempDir(t);
  await assert.rejects(
    runGradingService({ port: 0, host: '127.0.0.1', dataDir, registryUrl: reg.url, token: 'not-a-token-of-this-registry', handleSignals: false, logger: pino({ level: 'silent' }) }),
    { code: 'UNAUTHORIZED' },
  );
  assert.deepEqual(openFilesUnder(dataDir), [], 'the database is closed');
});

test('an added grade reaches the LogService through the registry', async (t) => {
  const reg = await registry(t);
  const log = await runLogService({ port: 0, host: '127.0.0.1', dataDir: tempDir(t), registryUrl: reg.url, token: reg.tokens.log, handleSignals: false, logger: pino({ level: 'silent' }) });
  t.after(() => log.close());
  const grading = await runGradingService({ port: 0, host: '127.0.0.1', dataDir: tempDir(t), registryUrl: reg.url, token: reg.tokens.grading, handleSignals: false, stdout: false });
  t.after(() => grading.close());

  const added = await fetch(`${grading.url}/students/3/grades`, { method: 'POST', body: '{"Title":"Quiz 3","Type":"Quiz","Score":71}' });
  assert.equal(added.status, 201);
  await added.arrayBuffer();
  // close() flushes the logger, so the entry has been delivered when it resolves.
  await grading.close();

  const logs = (await (await fetch(`${log.url}/v1/logs?service=GradingService`, { headers: { authorization: `Bearer ${reg.tokens.portal}` } })).json()) as { entries: { message: string }[] };
  const messages = logs.entries.map((entry) => entry.message);
  assert.ok(messages.some((message) => message.startsWith('added grade "Quiz 3" (Quiz, 71) for student 3 (Emma Stone)')), messages.join('\n'));
});
