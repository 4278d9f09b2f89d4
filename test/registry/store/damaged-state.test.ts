// Damaged state of registry.db: the shared contract (test/helpers/damaged-state-contract.ts),
// and what only the registry does: SQLite's "not a database", a file that was never Roster's,
// startRegistry and `roster registry` refusing with the message and starting with --reset-data.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { truncateSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry } from '../../../src/registry/start-registry.js';
import { SqliteStore } from '../../../src/registry/store/sqlite-store.js';
import { NodeProcess, ROSTER_CLI, scratchDir } from '../../helpers/processes.js';
import { damagedStateContract, scribble, withDatabase, type OpenOptions } from '../../helpers/damaged-state-contract.js';
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

async function openStore(file: string, options: OpenOptions = {}) {
  const store = new SqliteStore(file, options);
  try {
    const { revision } = await store.load();
    return { isFresh: () => revision === 0, close: () => store.close() };
  } catch (error) {
    await store.close();
    throw error;
  }
}

damagedStateContract({
  name: 'registry.db',
  withState: dataDirWithState,
  open: openStore,
  table: 'instances',
  damageRow: (db) => db.prepare('UPDATE instances SET record = ? WHERE id = ?').run('{"service": "svc3", ', 'id-svc3'),
  rowProblem: /the row instances\/id-svc3 does not parse: not JSON/,
  remedy: /roster registry --reset-data/,
  legacyRecord: 'registry.state.json',
});

function start(dataDir: string, resetData = false) {
  return startRegistry({ host: '127.0.0.1', port: 0, store: 'sqlite', dataDir, resetData, auth: { insecure: true } });
}

async function assertStartRefused(dataDir: string, file: string, problem: RegExp): Promise<void> {
  await assert.rejects(start(dataDir), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'STORE_DAMAGED');
    assert.ok(error.message.startsWith(`${file} is damaged: `), error.message);
    assert.match(error.message, problem);
    assert.match(error.message, /roster registry --reset-data/);
    return true;
  });
}

test('garbage over the header: "not a database" names the file and the remedy; resetData starts', async (t) => {
  const { dataDir, file } = await dataDirWithState(t);
  scribble(file, 0, 100);
  await assertStartRefused(dataDir, file, /SQLite reports "file is not a database"/);
  const running = await start(dataDir, true);
  t.after(() => running.close());
  assert.equal(running.registry.revision, 0);
});

test('a file that was never Roster\'s is refused', async (t) => {
  const { dataDir, file } = await dataDirWithState(t);
  withDatabase(file, (db) => db.pragma('user_version = 0'));
  await assertStartRefused(dataDir, file, /tables but no schema version/);
});

test('a new data folder starts empty', async (t) => {
  const fresh = await start(scratchDir(t, 'roster-damaged-'));
  assert.equal(fresh.registry.revision, 0);
  await fresh.close();
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
