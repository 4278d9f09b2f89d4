// Picking a provider by weight, tags and zone: the provider cache with a scripted random source,
// so every selection is checked exactly, and the client's provider() around it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProviderCache, routingOf, DEFAULT_ROUTING } from '../../src/client/provider-cache.js';
import { RegistryClient, RosterError } from '../../src/client/index.js';
import type { InstanceMetadata } from '../../src/protocol/index.js';
import type { Strategy } from '../../src/client/options.js';
import { FakeClock } from '../helpers/fake-clock.js';

const A = 'http://127.0.0.1:4001';
const B = 'http://127.0.0.1:4002';
const C = 'http://127.0.0.1:4003';

/** A random source that returns the given draws in turn. */
function scripted(...draws: number[]): () => number {
  return () => {
    const draw = draws.shift();
    assert.ok(draw !== undefined, 'more draws than scripted');
    return draw;
  };
}

/** A cache of service S holding the given instances, their routing learnt as a watch event would bring it. */
function cacheOf(instances: Record<string, InstanceMetadata>, strategy: Strategy = 'round-robin', random?: () => number): ProviderCache {
  const cache = new ProviderCache(['S'], strategy, random);
  cache.apply(Object.keys(instances).map((URL) => ({ Name: 'S', URL })), []);
  cache.learn(Object.entries(instances).map(([url, metadata]) => ({ service: 'S', url, metadata })));
  return cache;
}

const picks = (cache: ProviderCache, count: number, filter = {}): Array<string | undefined> => Array.from({ length: count }, () => cache.pick('S', filter));

test('routingOf: weight, zone and tags from metadata; defaults for what is missing or malformed', () => {
  assert.deepEqual(routingOf({ weight: 5, zone: 'a', tags: ['x'] }), { weight: 5, zone: 'a', tags: ['x'] });
  assert.deepEqual(routingOf({}), { weight: 100, zone: null, tags: [] });
  assert.deepEqual(routingOf(undefined), { weight: 100, zone: null, tags: [] });
  // Metadata stored before these fields were checked may hold anything.
  assert.deepEqual(routingOf({ weight: 'heavy', zone: 3, tags: 'x' }), { weight: 100, zone: null, tags: [] });
  assert.deepEqual(routingOf({ weight: 1.5 }).weight, 100);
  assert.deepEqual(routingOf({ weight: 2000 }).weight, 100);
});

test('weighted: a draw falls in each instance\'s share of the total weight', () => {
  // Weights 300 and 100: draws below 0.75 give A, the rest B.
  const cache = cacheOf({ [A]: { weight: 300 }, [B]: { weight: 100 } }, 'weighted', scripted(0, 0.5, 0.7499, 0.75, 0.99));
  assert.deepEqual(picks(cache, 5), [A, A, A, B, B]);
});

test('weight 0: registered but never picked, by any strategy', () => {
  for (const strategy of ['weighted', 'round-robin', 'random'] as const) {
    const cache = cacheOf({ [A]: { weight: 0 }, [B]: {} }, strategy, () => 0);
    assert.deepEqual(picks(cache, 3), [B, B, B], strategy);
    assert.deepEqual(cache.list('S'), [A, B], 'still listed as a provider');
  }
});

test('round-robin: smooth weighted round-robin; equal weights go round in order', () => {
  assert.deepEqual(picks(cacheOf({ [A]: {}, [B]: {}, [C]: {} }), 4), [A, B, C, A]);
  // 5 : 1 spreads B into A's run instead of five A in a row.
  assert.deepEqual(picks(cacheOf({ [A]: { weight: 500 }, [B]: { weight: 100 } }), 6), [A, A, A, B, A, A]);
  assert.deepEqual(picks(cacheOf({ [A]: { weight: 200 }, [B]: { weight: 100 } }), 6), [A, B, A, A, B, A]);
});

test('random: uniform over the candidates, whatever their weight', () => {
  const cache = cacheOf({ [A]: { weight: 900 }, [B]: { weight: 1 } }, 'random', scripted(0.49, 0.5));
  assert.deepEqual(picks(cache, 2), [A, B]);
});

test('tags: only instances that carry all of them', () => {
  const cache = cacheOf({ [A]: { tags: ['eu'] }, [B]: { tags: ['eu', 'canary'] }, [C]: { tags: ['us', 'canary'] } });
  assert.deepEqual(picks(cache, 2, { tags: ['canary'] }), [B, C]);
  assert.deepEqual(picks(cache, 2, { tags: ['eu', 'canary'] }), [B, B]);
  assert.deepEqual(picks(cache, 1, { tags: ['asia'] }), [undefined]);
});

test('zone: the caller\'s zone first, any zone when none of it is a candidate', () => {
  const cache = cacheOf({ [A]: { zone: 'a', weight: 1000 }, [B]: { zone: 'b', weight: 1 }, [C]: { zone: 'b', tags: ['gpu'] } }, 'weighted', () => 0);
  assert.deepEqual(picks(cache, 2, { zone: 'b' }), [B, B]);
  // Tags apply first: in zone b only C carries "gpu".
  assert.deepEqual(picks(cache, 1, { zone: 'b', tags: ['gpu'] }), [C]);
  // No instance of zone c: every zone is a candidate, by weight.
  assert.deepEqual(picks(cache, 1, { zone: 'c' }), [A]);
  // A zone whose instances all weigh 0 is as good as empty.
  const drained = cacheOf({ [A]: { zone: 'a' }, [B]: { zone: 'b', weight: 0 } }, 'weighted', () => 0.99);
  assert.deepEqual(picks(drained, 1, { zone: 'b' }), [A]);
});

test('a strategy given to pick() overrides the cache\'s', () => {
  const cache = cacheOf({ [A]: { weight: 1 }, [B]: { weight: 999 } }, 'round-robin', scripted(0.5));
  assert.deepEqual(picks(cache, 1, { strategy: 'weighted' }), [B]);
  assert.deepEqual(picks(cache, 1, { strategy: 'round-robin' }), [B]);
});

test('an instance known only by its URL (a patch) has the default routing; its routing outlives its removal', () => {
  const cache = new ProviderCache(['S'], 'round-robin');
  cache.apply([{ Name: 'S', URL: A }], []);
  assert.deepEqual(cache.routing('S', A), DEFAULT_ROUTING);
  assert.equal(cache.pick('S', { tags: ['eu'] }), undefined);

  cache.learn([{ service: 'S', url: A, metadata: { tags: ['eu'] } }]);
  cache.apply([], [{ Name: 'S', URL: A }]);
  cache.apply([{ Name: 'S', URL: A }], []);
  assert.equal(cache.pick('S', { tags: ['eu'] }), A, 'added back by a patch, it keeps the tags last seen');
  // Services this client does not require are not remembered.
  cache.learn([{ service: 'Other', url: B, metadata: { weight: 5 } }]);
  assert.deepEqual(cache.routing('Other', B), DEFAULT_ROUTING);
});

function bareClient(t: import('node:test').TestContext, options: Partial<ConstructorParameters<typeof RegistryClient>[0]> = {}): RegistryClient {
  const client = new RegistryClient({ service: 'Caller', url: 'http://127.0.0.1:7000', requires: ['S'], registryUrl: 'http://127.0.0.1:1', clock: new FakeClock(), ...options });
  t.after(() => client.close());
  return client;
}

test('provider(): NO_PROVIDER names the tags that matched nothing', (t) => {
  const client = bareClient(t);
  client.applyPatch({ Added: [{ Name: 'S', URL: A }, { Name: 'S', URL: B }], Removed: [] });
  assert.ok([A, B].includes(client.provider('S')));
  assert.throws(() => client.provider('S', { tags: ['eu', 'canary'] }), (error: unknown) => {
    assert.ok(error instanceof RosterError);
    assert.equal(error.code, 'NO_PROVIDER');
    assert.match(error.message, /^no instance of service "S" with tags \["eu","canary"\] is available \(2 passing, none carries all these tags/);
    return true;
  });
  assert.throws(() => client.provider('S', { tags: 'eu' as unknown as string[] }), { code: 'INVALID_REQUEST', message: /tags must be a list/ });
});

test('options: weight, tags and zone are checked; zone defaults to ROSTER_ZONE', (t) => {
  const before = process.env.ROSTER_ZONE;
  t.after(() => (before === undefined ? delete process.env.ROSTER_ZONE : (process.env.ROSTER_ZONE = before)));
  process.env.ROSTER_ZONE = 'eu-west';
  assert.equal(bareClient(t).options.zone, 'eu-west');
  assert.equal(bareClient(t, { zone: 'b' }).options.zone, 'b');
  delete process.env.ROSTER_ZONE;
  const plain = bareClient(t);
  assert.deepEqual([plain.options.zone, plain.options.weight, plain.options.tags], [null, null, null]);
  for (const [bad, name] of [
    [{ weight: 1001 }, 'weight'],
    [{ weight: -1 }, 'weight'],
    [{ weight: 1.5 }, 'weight'],
    [{ zone: '' }, 'zone'],
    [{ zone: 'a\nb' }, 'zone'],
    [{ tags: ['ok', 'x'.repeat(65)] }, 'tags[1]'],
    [{ tags: 'eu' }, 'tags'],
    [{ strategy: 'fastest' }, 'strategy'],
  ] as const) {
    assert.throws(() => bareClient(t, bad as object), (error: unknown) => {
      assert.ok(error instanceof RosterError, String(error));
      assert.equal(error.code, 'INVALID_OPTION');
      assert.ok(error.message.startsWith(`option "${name}"`), error.message);
      return true;
    }, JSON.stringify(bad));
  }
  process.env.ROSTER_ZONE = 'bad\u001bzone';
  assert.throws(() => bareClient(t), /ROSTER_ZONE/);
});

test('what a pick is made from follows the view and new routing', () => {
  const cache = cacheOf({ [A]: { tags: ['eu'] }, [B]: { tags: ['us'] } });
  assert.equal(cache.pick('S', { tags: ['eu'] }), A);
  cache.learn([{ service: 'S', url: A, metadata: { tags: ['us'] } }]);
  assert.equal(cache.pick('S', { tags: ['eu'] }), undefined, 'a re-registration with other tags counts at once');
  cache.apply([{ Name: 'S', URL: C }], [{ Name: 'S', URL: B }]);
  assert.deepEqual(picks(cache, 2, { tags: ['us'] }), [A, A], 'B left the view');
  // Many distinct filters: still right once the remembered ones are forgotten.
  for (let i = 0; i < 200; i++) assert.equal(cache.pick('S', { tags: [`t${i}`] }), undefined);
  assert.equal(cache.pick('S', { tags: ['us'] }), A);
});
