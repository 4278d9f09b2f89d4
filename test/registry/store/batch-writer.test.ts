// The batch writer keeps one write in flight and gathers what arrives meanwhile into the next
// batch: a slow store sees fewer, larger batches, and never two at once or out of order.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { InstanceRecord } from '../../../src/registry/catalog.js';
import { BatchWriter } from '../../../src/registry/store/batch-writer.js';
import type { RegistryStore, StoreBatch } from '../../../src/registry/store/store.js';

/** A store whose writes finish only when the test says so. */
class SlowStore implements RegistryStore {
  readonly description = 'slow';
  closed = false;
  readonly batches: StoreBatch[] = [];
  inFlight = 0;
  maxInFlight = 0;
  #finishers: Array<() => void> = [];
  #waiters: Array<{ count: number; wake: () => void }> = [];

  /** Resolves once `count` writes have started. */
  writes(count: number): Promise<void> {
    if (this.batches.length >= count) return Promise.resolve();
    return new Promise((wake) => this.#waiters.push({ count, wake }));
  }

  async load() {
    return { revision: 0, instances: [], outbox: [] };
  }

  write(batch: StoreBatch): Promise<void> {
    this.batches.push(batch);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    for (const waiter of this.#waiters.filter((w) => this.batches.length >= w.count)) waiter.wake();
    return new Promise((resolve) => {
      this.#finishers.push(() => {
        this.inFlight -= 1;
        resolve();
      });
    });
  }

  finishOne(): void {
    this.#finishers.shift()?.();
  }

  async close() {
    this.closed = true;
  }
}

function record(id: string, revision: number): InstanceRecord {
  return {
    id, service: 'S', url: `http://127.0.0.1:1/${id}`, requires: [], updateUrl: null, heartbeatUrl: null, ttlMs: 5000,
    metadata: {}, health: 'passing', protocol: 'v1', owner: null, signingKey: null, registeredAt: 0, revision, lastCheckAt: null, lastCheckMs: null,
    lastError: null, criticalSince: null,
  };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

test('changes made while a write is in flight go out together, after it, in one batch', async () => {
  const store = new SlowStore();
  let revision = 1;
  const writer = new BatchWriter(store, () => revision, (error) => assert.fail(error));

  writer.upsert(record('a', 1));
  const first = writer.flush();
  await store.writes(1);

  // Three more changes, each in its own turn of the event loop, while the first write runs.
  for (const id of ['b', 'c', 'd']) {
    revision += 1;
    writer.upsert(record(id, revision));
    await nextTurn();
  }
  writer.delete('b');
  const second = writer.flush();
  await nextTurn();
  assert.equal(store.batches.length, 1, 'nothing more is written while the first write runs');

  store.finishOne();
  await first;
  await store.writes(2);
  assert.equal(store.batches.length, 2);
  const [, batch] = store.batches;
  assert.deepEqual(batch?.upserts.map((r) => r.id), ['c', 'd']);
  assert.deepEqual(batch?.deletes, ['b'], 'the last word on an instance wins');
  assert.equal(batch?.revision, 4);
  store.finishOne();
  await second;
  assert.equal(store.maxInFlight, 1);
});

test('flush() with nothing staged resolves without a write', async () => {
  const store = new SlowStore();
  const writer = new BatchWriter(store, () => 0, (error) => assert.fail(error));
  await writer.flush();
  assert.equal(store.batches.length, 0);
});
