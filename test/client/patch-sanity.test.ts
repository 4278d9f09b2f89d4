// What a patch must be before it touches the view, signed or not.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryClient, type RegistryClientOptions } from '../../src/client/index.js';
import { ProviderCache } from '../../src/client/provider-cache.js';
import { RosterError } from '../../src/protocol/index.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { FakeRegistry, recordingLogger } from '../helpers/fake-registry.js';

const LOG_A = 'http://127.0.0.1:4001';

function bareClient(t: TestContext, options: Partial<RegistryClientOptions> = {}) {
  const logger = recordingLogger();
  const client = new RegistryClient({
    service: 'Portal', url: 'http://127.0.0.1:5000', requires: ['LogService'],
    registryUrl: 'http://127.0.0.1:9', clock: new FakeClock(), logger, ...options,
  });
  t.after(() => client.close());
  return { client, logger };
}

const invalid = (pattern: RegExp) => (error: unknown) => error instanceof RosterError && error.code === 'INVALID_REQUEST' && pattern.test(error.message);

test('provider URLs must be http(s): a data:, javascript: or file: URL refuses the whole patch', (t) => {
  const { client } = bareClient(t);
  for (const URL of ['data:text/plain,hi', 'javascript:alert(1)', 'file:///etc/passwd', 'http//missing-colon']) {
    const patch = { Added: [{ Name: 'LogService', URL: LOG_A }, { Name: 'LogService', URL }], Removed: [], Revision: 1 };
    assert.throws(() => client.applyPatch(patch), invalid(/"Added\.1\.URL" must be an absolute http/), URL);
  }
  assert.deepEqual(client.providers('LogService'), []);
  assert.equal(client.lastRevision, 0);
});

test('names must be service names', (t) => {
  const { client } = bareClient(t);
  for (const Name of ['', 'Log Service', '1Log', 'x'.repeat(65), '<script>']) {
    assert.throws(() => client.applyPatch({ Added: [], Removed: [{ Name, URL: LOG_A }] }), invalid(/"Removed\.0\.Name"/), Name);
  }
});

test('lists are bounded: more than 10,000 entries is refused', (t) => {
  const { client } = bareClient(t);
  const Added = Array.from({ length: 10_001 }, (_, i) => ({ Name: 'LogService', URL: `http://10.0.${i >> 8}.${i & 255}:80` }));
  assert.throws(() => client.applyPatch({ Added, Removed: [] }), invalid(/"Added" must list at most 10000/));
  assert.deepEqual(client.providers('LogService'), []);
});

test('the update path refuses a body over 1 MiB before reading it all', async (t) => {
  const { createServer } = await import('node:http');
  const { client } = bareClient(t);
  const server = createServer(client.requestListener());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  }));
  const { port } = server.address() as { port: number };
  const body = JSON.stringify({ Added: [], Removed: [], pad: 'x'.repeat(1024 * 1024) });
  const response = await fetch(`http://127.0.0.1:${port}/services`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  assert.equal(response.status, 413);
  await response.arrayBuffer();
});

test('a Revision far beyond the last seen is not believed: nothing applied, the view is read from GET /v1/state', async (t) => {
  const registry = await FakeRegistry.start();
  t.after(() => registry.stop());
  const { client, logger } = bareClient(t, { registryUrl: registry.url, updateUrl: null });
  registry.addInstance('LogService', LOG_A);
  await client.register();
  const before = client.lastRevision;
  const stateReads = () => registry.count((r) => r.method === 'GET' && r.path === '/v1/state');

  client.applyPatch({ Added: [{ Name: 'LogService', URL: 'http://127.0.0.1:6666' }], Removed: [], Revision: before + 10_001, PrevRevision: before });
  await registry.waitForRequest((r) => r.path === '/v1/state');

  assert.deepEqual(client.providers('LogService'), [LOG_A]);
  assert.equal(client.lastRevision, before);
  assert.equal(stateReads(), 1);
  assert.match(logger.messages('warn').join('\n'), /claims revision \d+, more than 10000 beyond the last seen .*not applied; reading the registry's state/);

  // Within the bound, a patch is believed as before.
  client.applyPatch({ Added: [{ Name: 'LogService', URL: 'http://127.0.0.1:4002' }], Removed: [], Revision: before + 10_000, PrevRevision: before });
  assert.equal(client.lastRevision, before + 10_000);
});

test('the course protocol cannot read state: a far Revision is dropped with a warning', (t) => {
  const { client, logger } = bareClient(t, { protocol: 'course' });
  client.applyPatch({ Added: [{ Name: 'LogService', URL: LOG_A }], Removed: [], Revision: 50_000 });
  assert.deepEqual(client.providers('LogService'), []);
  assert.match(logger.messages('warn')[0] ?? '', /claims revision 50000/);
});

test('applying patches is linear in their size: eight 10,000-entry patches on a 10,000-entry view', { timeout: 20_000 }, (t) => {
  const { client } = bareClient(t);
  const urls = (from: number) => Array.from({ length: 10_000 }, (_, i) => ({ Name: 'LogService', URL: `http://10.${(from + i) >> 16}.${((from + i) >> 8) & 255}.${(from + i) & 255}:80` }));
  let revision = 0;
  const next = (Added: object[], Removed: object[]) => client.applyPatch({ Added, Removed, Revision: ++revision, PrevRevision: revision - 1 });
  next(urls(0), []);
  for (let round = 1; round <= 4; round++) {
    next(urls(round * 10_000), []);
    next([], urls(round * 10_000));
  }
  assert.equal(client.providers('LogService').length, 10_000);
  assert.equal(client.lastRevision, 9);
});

test('ProviderCache: a removed and re-added URL moves to the end; net changes only', () => {
  const cache = new ProviderCache(['S'], 'round-robin');
  const entry = (URL: string) => ({ Name: 'S', URL });
  assert.deepEqual(cache.apply([entry('a'), entry('b'), entry('c')], []), [{ service: 'S', added: ['a', 'b', 'c'], removed: [] }]);
  assert.deepEqual(cache.apply([entry('a')], [entry('a')]), []);
  assert.deepEqual(cache.list('S'), ['b', 'c', 'a']);
  assert.deepEqual(cache.apply([], [entry('b'), entry('x')]), [{ service: 'S', added: [], removed: ['b'] }]);
  assert.deepEqual([cache.pick('S'), cache.pick('S'), cache.pick('S')], ['c', 'a', 'c']);
  assert.deepEqual(cache.replace(new Map([['S', ['a', 'd', 'd']]])), [{ service: 'S', added: ['d'], removed: ['c'] }]);
  assert.deepEqual(cache.list('S'), ['a', 'd']);
});
