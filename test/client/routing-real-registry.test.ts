// Weighted, tagged, zoned routing end to end: a registry as users start it (secure by default),
// two providers started with startService in zones a and b, and a watching client in zone b.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { RegistryClient } from '../../src/client/index.js';
import { startService, type RunningService } from '../../src/service/index.js';
import { startRegistry } from '../../src/registry/start-registry.js';

/** Tests wait for events; one that never comes fails the test instead of hanging the run. */
const BOUNDED = { timeout: 20_000 };

const quiet = { info: () => {}, debug: () => {}, warn: () => {}, error: () => {} };

async function provider(t: TestContext, registryUrl: string, token: string, routing: { zone: string; weight: number; tags: string[] }): Promise<RunningService> {
  const running = await startService({
    name: 'Search',
    host: '127.0.0.1',
    registryUrl,
    token,
    handleSignals: false,
    logger: quiet,
    handler: (_req, res) => res.end(routing.zone),
    ...routing,
  });
  t.after(() => running.close());
  return running;
}

test('a client in zone b picks the zone-b provider though zone a weighs more; tags narrow the pick across zones', BOUNDED, async (t) => {
  const registry = await startRegistry({ host: '127.0.0.1', port: 0 });
  t.after(() => registry.close());
  assert.ok(registry.adminToken, 'authentication is on by default');
  const token = registry.adminToken;

  const inA = await provider(t, registry.url, token, { zone: 'a', weight: 900, tags: ['gpu'] });
  const inB = await provider(t, registry.url, token, { zone: 'b', weight: 10, tags: ['cpu'] });
  assert.deepEqual(registry.registry.instance(inA.client.id).metadata, { weight: 900, tags: ['gpu'], zone: 'a' });

  const caller = new RegistryClient({
    service: 'Caller',
    url: 'http://127.0.0.1:1',
    requires: ['Search'],
    registryUrl: registry.url,
    token,
    notifications: 'watch',
    heartbeatUrl: null,
    ttlMs: 600_000,
    zone: 'b',
    logger: quiet,
  });
  t.after(() => caller.close());
  await caller.register();
  if (caller.providers('Search').length < 2) await once(caller, 'change');
  assert.deepEqual([...caller.providers('Search')].sort(), [inA.url, inB.url].sort());

  // Zone b first, whatever the weights, by every strategy.
  for (const strategy of ['round-robin', 'weighted', 'random'] as const) {
    assert.deepEqual([1, 2, 3].map(() => caller.provider('Search', { strategy })), [inB.url, inB.url, inB.url], strategy);
  }
  // Only zone a carries "gpu": the tags filter wins over the zone.
  assert.equal(caller.provider('Search', { tags: ['gpu'] }), inA.url);
  // Another zone asked for explicitly.
  assert.equal(caller.provider('Search', { zone: 'a' }), inA.url);
  assert.throws(() => caller.provider('Search', { tags: ['tpu'] }), { code: 'NO_PROVIDER', message: /with tags \["tpu"\]/ });

  // Zone b's only instance leaves: the caller falls back to zone a.
  const removed = once(caller, 'change');
  await inB.close();
  await removed;
  assert.equal(caller.provider('Search'), inA.url);
  assert.equal(await (await fetch(caller.provider('Search'))).text(), 'a');
});
