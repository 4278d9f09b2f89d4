// Damaged state is refused at start with a message that names the file, what is wrong and what
// to do; resetData starts afresh and keeps the damaged file aside. Real SQLite files, damaged
// the ways a disk, an operator or a stray script damages them.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readdirSync, statSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startRegistry } from '../../../src/registry/start-registry.js';
import { SqliteStore } from '../../../src/registry/store/sqlite-store.js';
import { NodeProcess, ROSTER_CLI, scratchDir } from '../../helpers/processes.js';
import { record } from './store-contract.js';

const INSTANCES = 40;

/** A data folder whose registry.db holds INSTANCES instances, closed cleanly (its record written). */
async function dataDirWithState(t: TestContext): Promise<{ dataDir: string; file: string }> {
  const dataDir = scratchDir(t, 'roster-damaged-');
  const file = join(dataDir, 'registry.db');
  const store = new SqliteStore(file);
  const upserts = Array.from({ length: INSTANCES }, (_, i) => record(`svc${i}`, i + 1, { metadata: { version: '1.0.0', tags: ['x'.repeat(60)] } }));
  await store.write({ revision: INSTANCES, upserts, deletes: [], enqueued: [], done: [] });
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

/** Writes `bytes` of garbage over the file from `offset` on. */
function scribble(file: string, offset: number, bytes: number): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, Buffer.alloc(bytes, 0xa5), 0, bytes, offset);
  } finally {
    closeSync(fd);
  }
}

function start(dataDir: string, resetData = false) {
  return startRegistry({ host: '127.0.0.1', port: 0, store: 'sqlite', dataDir, resetData, auth: { insecure: true } });
}

/** The refusal names the file, says what is wrong (`problem`) and both remedies. */
async function assertRefused(dataDir: string, file: string, problem: RegExp): Promise<void> {
  await assert.rejects(start(dataDir), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'STORE_DAMAGED');
    assert.ok(error.message.startsWith(`${file} is damaged: `), error.message);
    assert.match(error.message, problem);
    assert.match(error.message, /Restore it from a backup/);
    assert.match(error.message, /roster registry --reset-data/);
    assert.match(error.message, /resetData: true/);
    return true;
  });
  assert.ok(statSync(file).isFile(), 'a refusal leaves the file where it was');
}

/** resetData starts empty and keeps the damaged file aside, untouched. */
async function assertResetKeepsItAside(t: TestContext, dataDir: string, file: string): Promise<void> {
  const sizeBefore = statSync(file).size;
  const running = await start(dataDir, true);
  t.after(() => running.close());
  assert.equal(running.registry.revision, 0);
  const aside = readdirSync(dataDir).filter((name) => /^registry\.db\.damaged-\d{4}-\d\d-\d\dT[\d-]+Z$/.test(name));
  assert.equal(aside.length, 1, `one damaged copy kept aside: ${readdirSync(dataDir).join(', ')}`);
  assert.equal(statSync(join(dataDir, aside[0]!)).size, sizeBefore, 'the damaged file is moved, not changed');
  await running.close();
  // The fresh state is accepted at the next start, without the option.
  const again = await start(dataDir);
  await again.close();
}

test('an emptied registry.db is refused: its record says what was there', async (t) => {
  const { dataDir, file } = await dataDirWithState(t);
  truncateSync(file, 0);
  await assertRefused(dataDir, file, /holds revision 0, instances 0 where .*registry\.state\.json recorded revision 40, instances 40/);
  await assertResetKeepsItAside(t, dataDir, file);
});

test('a dropped table is refused, not recreated empty', async (t) => {
  const { dataDir, file } = await dataDirWithState(t);
  withDatabase(file, (db) => db.exec('DROP TABLE instances'));
  await assertRefused(dataDir, file, /the table instances is missing/);
  await assertResetKeepsItAside(t, dataDir, file);
});

test('garbage bytes in the pages: "malformed" names the file and the remedy', async (t) => {
  const { dataDir, file } = await dataDirWithState(t);
  const pageSize = 4096;
  assert.ok(statSync(file).size >= 3 * pageSize, 'the file spans several pages');
  scribble(file, pageSize, 2 * pageSize);
  await assertRefused(dataDir, file, /integrity check failed|malformed|not a database/);
  await assertResetKeepsItAside(t, dataDir, file);
});

test('garbage over the header: "not a database" names the file and the remedy', async (t) => {
  const { dataDir, file } = await dataDirWithState(t);
  scribble(file, 0, 100);
  await assertRefused(dataDir, file, /SQLite reports "file is not a database"/);
  await assertResetKeepsItAside(t, dataDir, file);
});

test('one non-JSON row is refused naming the row, never a bare parse error', async (t) => {
  const { dataDir, file } = await dataDirWithState(t);
  withDatabase(file, (db) => db.prepare('UPDATE instances SET record = ? WHERE id = ?').run('{"service": "svc3", ', 'id-svc3'));
  await assertRefused(dataDir, file, /the row instances\/id-svc3 does not parse: not JSON/);
  await assertResetKeepsItAside(t, dataDir, file);
});

test('a file that was never Roster\'s is refused', async (t) => {
  const { dataDir, file } = await dataDirWithState(t);
  withDatabase(file, (db) => db.pragma('user_version = 0'));
  await assertRefused(dataDir, file, /tables but no schema version/);
});

test('a new data folder starts empty; a record that cannot be read is refused', async (t) => {
  const dataDir = scratchDir(t, 'roster-damaged-');
  const fresh = await start(dataDir);
  await fresh.close();
  const { dataDir: held, file } = await dataDirWithState(t);
  scribble(join(held, 'registry.state.json'), 0, 4);
  await assertRefused(held, file, /registry\.state\.json cannot be read/);
});

test('roster registry exits 1 with the message on an emptied registry.db; --reset-data starts', { timeout: 30_000 }, async (t) => {
  const { dataDir, file } = await dataDirWithState(t);
  truncateSync(file, 0);
  const args = [ROSTER_CLI, 'registry', '--host', '127.0.0.1', '--port', '0', '--store', 'sqlite', '--data-dir', dataDir, '--insecure'];
  const refused = new NodeProcess(t, args);
  const [code] = await refused.exited;
  assert.equal(code, 1);
  const fatal = refused.events.find((event) => event.level === 60 || event.level === 'fatal');
  assert.ok(fatal, refused.output);
  assert.match(String(fatal.msg), new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is damaged: .*--reset-data`));
  const reset = new NodeProcess(t, [...args, '--reset-data']);
  await reset.waitForEvent((event) => typeof event.msg === 'string' && event.msg.startsWith('registry listening'));
  assert.ok(reset.events.some((event) => /moved aside as .*registry\.db\.damaged-/.test(String(event.msg))), reset.output);
  reset.kill('SIGTERM');
  await reset.exited;
});
