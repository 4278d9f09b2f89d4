import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLogStore, type FileLogStore, type LogEntry, type LogStoreOptions } from '../../../src/services/log/index.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'roster-log-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function store(t: TestContext, options: LogStoreOptions): Promise<FileLogStore> {
  const opened = await openLogStore(options);
  t.after(() => opened.close());
  return opened;
}

function entry(message: string, overrides: Partial<LogEntry> = {}): LogEntry {
  return { time: '2026-01-01T00:00:00.000Z', service: 'GradingService', level: 'info', message, ...overrides };
}

function fileLines(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').filter((line) => line !== '');
}

test('creates the folder and writes one JSON line per entry with a fixed key order', async (t) => {
  const dir = join(tempDir(t), 'nested', 'log');
  const logs = await store(t, { dir });

  await logs.append(entry('hello'));

  assert.equal(logs.path, join(dir, 'roster.log'));
  assert.equal(readFileSync(logs.path, 'utf8'), '{"time":"2026-01-01T00:00:00.000Z","service":"GradingService","level":"info","message":"hello"}\n');
});

test('an entry is in the file when append resolves', async (t) => {
  const logs = await store(t, { dir: tempDir(t) });
  for (let i = 0; i < 5; i++) {
    await logs.append(entry(`entry ${i}`));
    assert.equal(JSON.parse(fileLines(logs.path).at(-1) ?? '').message, `entry ${i}`);
  }
});

test('a message with newlines stays one entry: it cannot forge another', async (t) => {
  const logs = await store(t, { dir: tempDir(t) });

  await logs.append(entry('real\n[Fake] - forged\r\n{"time":"x","service":"Fake","level":"fatal","message":"forged"}'));

  const lines = fileLines(logs.path);
  assert.equal(lines.length, 1);
  assert.equal(JSON.parse(lines[0] ?? '').service, 'GradingService');
  assert.equal(logs.recent().length, 1);
});

test('concurrent appends share disk flushes (group commit) and keep their order', async (t) => {
  const logs = await store(t, { dir: tempDir(t) });
  const handle = await open(logs.path, 'r');
  const syncs = t.mock.method(Object.getPrototypeOf(handle), 'datasync');
  await handle.close();

  await Promise.all(Array.from({ length: 200 }, (_, i) => logs.append(entry(`m${i}`))));

  const messages = fileLines(logs.path).map((line) => JSON.parse(line).message);
  assert.deepEqual(messages, Array.from({ length: 200 }, (_, i) => `m${i}`));
  assert.ok(syncs.mock.callCount() >= 1 && syncs.mock.callCount() <= 2, `expected 1–2 datasyncs, got ${syncs.mock.callCount()}`);
});

test('rotation by size keeps maxFiles old files and the newest entries', async (t) => {
  const dir = tempDir(t);
  const lineBytes = Buffer.byteLength(`${JSON.stringify(entry('m00'))}\n`);
  const logs = await store(t, { dir, maxBytes: lineBytes * 2, maxFiles: 3 });

  for (let i = 0; i < 20; i++) await logs.append(entry(`m${String(i).padStart(2, '0')}`));

  assert.deepEqual(readdirSync(dir).sort(), ['roster.log', 'roster.log.1', 'roster.log.2', 'roster.log.3']);
  const messages = (name: string): string[] => fileLines(join(dir, name)).map((line) => JSON.parse(line).message);
  assert.deepEqual(messages('roster.log'), ['m18', 'm19']);
  assert.deepEqual(messages('roster.log.1'), ['m16', 'm17']);
  assert.deepEqual(messages('roster.log.3'), ['m12', 'm13']);
  assert.deepEqual(logs.recent({ limit: 3 }).map((e) => e.message), ['m19', 'm18', 'm17']);
});

test('a restarted store (same file) still returns the old entries from recent()', async (t) => {
  const dir = tempDir(t);
  const first = await openLogStore({ dir });
  await first.append([entry('one'), entry('two', { level: 'warn' }), entry('three', { service: 'Portal' })]);
  await first.close();

  const second = await store(t, { dir });

  assert.deepEqual(second.recent().map((e) => e.message), ['three', 'two', 'one']);
  await second.append(entry('four'));
  assert.deepEqual(fileLines(second.path).length, 4);
});

test('restart loads only the newest recentLimit entries, reading the tail in chunks', async (t) => {
  const dir = tempDir(t);
  const big = 'x'.repeat(30_000);
  const lines = Array.from({ length: 50 }, (_, i) => `${JSON.stringify(entry(`${i} ${big}`))}\n`);
  writeFileSync(join(dir, 'roster.log'), lines.join(''));

  const logs = await store(t, { dir, recentLimit: 10 });

  assert.deepEqual(logs.recent({ limit: 100 }).map((e) => e.message.split(' ')[0]), ['49', '48', '47', '46', '45', '44', '43', '42', '41', '40']);
});

test('a torn last line (crash mid-write) is skipped and the next entry starts on its own line', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'roster.log');
  writeFileSync(path, `${JSON.stringify(entry('whole'))}\n`);
  appendFileSync(path, '{"time":"2026-01-01T00:00:00.000Z","serv');

  const logs = await store(t, { dir });
  await logs.append(entry('after'));

  assert.deepEqual(logs.recent().map((e) => e.message), ['after', 'whole']);
  assert.equal(JSON.parse(fileLines(path).at(-1) ?? '').message, 'after');
});

test('recent() filters by service and minimum level, newest first, with a limit', async (t) => {
  const logs = await store(t, { dir: tempDir(t) });
  await logs.append([
    entry('a', { level: 'debug' }),
    entry('b', { level: 'warn' }),
    entry('c', { level: 'error', service: 'Portal' }),
    entry('d', { level: 'fatal' }),
    entry('e', { level: 'info' }),
  ]);

  assert.deepEqual(logs.recent({ level: 'warn' }).map((e) => e.message), ['d', 'c', 'b']);
  assert.deepEqual(logs.recent({ service: 'GradingService', level: 'warn' }).map((e) => e.message), ['d', 'b']);
  assert.deepEqual(logs.recent({ limit: 2 }).map((e) => e.message), ['e', 'd']);
});

test('the memory ring keeps the newest recentLimit entries', async (t) => {
  const logs = await store(t, { dir: tempDir(t), recentLimit: 3 });
  for (const message of ['1', '2', '3', '4', '5']) await logs.append(entry(message));
  assert.deepEqual(logs.recent().map((e) => e.message), ['5', '4', '3']);
});

test('close() is idempotent, finishes pending appends and refuses new ones', async (t) => {
  const logs = await openLogStore({ dir: tempDir(t) });
  const pending = logs.append(entry('last'));

  await Promise.all([logs.close(), logs.close()]);

  await pending;
  assert.equal(fileLines(logs.path).length, 1);
  await assert.rejects(logs.append(entry('too late')), { code: 'STORE_CLOSED' });
});

test('bad options are refused with a message naming the option', async () => {
  await assert.rejects(openLogStore({ maxBytes: 0 }), { code: 'INVALID_OPTION', message: /"maxBytes"/ });
  await assert.rejects(openLogStore({ file: 'a/b.log' }), { code: 'INVALID_OPTION', message: /"file"/ });
});
