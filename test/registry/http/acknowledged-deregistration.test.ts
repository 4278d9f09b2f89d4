// A deregistration is answered only once it is stored, through either API: a registry killed
// right after the answer must not bring the instance back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRegistryServer } from '../../../src/registry/http/server.js';
import { Registry } from '../../../src/registry/registry.js';
import { MemoryStore } from '../../../src/registry/store/memory-store.js';
import type { StoreBatch } from '../../../src/registry/store/store.js';

/** A store whose writes wait until the test lets them through. */
class GatedStore extends MemoryStore {
  gated = false;
  readonly #waiting: Array<() => void> = [];

  override async write(batch: StoreBatch): Promise<void> {
    if (this.gated) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    await super.write(batch);
  }

  open(): void {
    this.gated = false;
    for (const resolve of this.#waiting.splice(0)) resolve();
  }

  get waiting(): number {
    return this.#waiting.length;
  }
}

const ADMIN = 'admin-secret-0123456789';

async function setup(t: { after(fn: () => Promise<void>): void }) {
  const store = new GatedStore();
  const registry = new Registry({ channel: { send: async () => undefined, close: async () => undefined }, probe: async () => undefined, store, options: { initialDeliveryWaitMs: 0 } });
  const app = buildRegistryServer(registry, { auth: { adminToken: ADMIN } });
  t.after(async () => {
    store.open();
    await app.close();
    await registry.close();
  });
  await registry.register({ service: 'Log', url: 'http://127.0.0.1:4000', requires: [], updateUrl: null, heartbeatUrl: null, ttlMs: 60_000, metadata: {}, protocol: 'v1', owner: null });
  return { store, registry, app };
}

/** Resolves with the answer, and says whether it came before the store wrote. */
async function answeredOnlyAfterStore(store: GatedStore, answer: Promise<{ statusCode: number }>): Promise<number> {
  let answered = false;
  const status = answer.then((response) => {
    answered = true;
    return response.statusCode;
  });
  while (store.waiting === 0) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(answered, false, 'answered before the deregistration was stored');
  store.open();
  return status;
}

test('DELETE /v1/instances/{id} answers once the removal is stored', async (t) => {
  const { store, registry, app } = await setup(t);
  store.gated = true;
  const id = registry.instances()[0]!.id;
  const answer = app.inject({ method: 'DELETE', url: `/v1/instances/${id}`, headers: { authorization: `Bearer ${ADMIN}` } });
  assert.equal(await answeredOnlyAfterStore(store, answer), 200);
  assert.deepEqual((await store.load()).instances, []);
});

test("the course's DELETE /services answers once the removal is stored", async (t) => {
  const { store, app } = await setup(t);
  store.gated = true;
  const answer = app.inject({ method: 'DELETE', url: '/services', headers: { 'content-type': 'text/plain' }, payload: 'http://127.0.0.1:4000', remoteAddress: '127.0.0.1' });
  assert.equal(await answeredOnlyAfterStore(store, answer), 200);
  assert.deepEqual((await store.load()).instances, []);
});
