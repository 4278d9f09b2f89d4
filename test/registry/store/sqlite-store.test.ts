import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../../src/registry/store/sqlite-store.js';
import type { RegistryStore } from '../../../src/registry/store/store.js';
import { record, storeContract } from './store-contract.js';

const files = new WeakMap<RegistryStore, string>();

function tempFile(t: import('node:test').TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'roster-sqlite-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'nested', 'registry.db');
}

function open(t: import('node:test').TestContext, file: string): SqliteStore {
  const store = new SqliteStore(file);
  files.set(store, file);
  t.after(() => store.close());
  return store;
}

let current: import('node:test').TestContext;
storeContract('sqlite store', {
  create: async (t) => {
    current = t;
    return open(t, tempFile(t));
  },
  reopen: async (store) => {
    await store.close();
    return open(current, files.get(store)!);
  },
  damage: {
    instance: async (store, id, text) => {
      withDatabase(store, (db) => db.prepare('UPDATE instances SET record = ? WHERE id = ?').run(text, id));
      return `instances/${id}`;
    },
    outboxAdded: async (store, target, revision, text) => {
      const row = withDatabase(store, (db) => db.prepare('UPDATE outbox SET added = ? WHERE target = ? AND revision = ? RETURNING seq').get(text, target, revision)) as { seq: number };
      return `outbox/${row.seq}`;
    },
  },
});

/** Opens the store's file beside it, as another process would, for what the store would never write. */
function withDatabase<T>(store: RegistryStore, change: (db: Database.Database) => T): T {
  const db = new Database(files.get(store)!);
  try {
    return change(db);
  } finally {
    db.close();
  }
}

test('sqlite store: the file is in WAL mode and refuses a newer schema', async (t) => {
  const file = tempFile(t);
  const store = open(t, file);
  await store.write({ revision: 1, upserts: [record('a', 1)], deletes: [], enqueued: [], done: [] });
  await store.close();
  const db = new Database(file);
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  db.pragma('user_version = 99');
  db.close();
  assert.throws(() => new SqliteStore(file), { code: 'SCHEMA_TOO_NEW', message: /newer Roster/ });
});
