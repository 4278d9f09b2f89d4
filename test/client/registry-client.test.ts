import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { RegistryClient, type ChangeEvent, type RegistryClientOptions } from '../../src/client/index.js';
import { RosterError, instanceId } from '../../src/protocol/index.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { FakeRegistry, freePort, listenLate, recordingLogger } from '../helpers/fake-registry.js';

const LOG_A = 'http://127.0.0.1:4001';
const LOG_B = 'http://127.0.0.1:4002';
const LOG_C = 'http://127.0.0.1:4003';

async function startRegistry(t: TestContext): Promise<FakeRegistry> {
  const registry = await FakeRegistry.start();
  t.after(() => registry.stop());
  return registry;
}

/** A client with no server behind it: patches are fed to applyPatch by hand. */
function bareClient(t: TestContext, options: Partial<RegistryClientOptions> = {}): RegistryClient {
  const client = new RegistryClient({
    service: 'GradingService', url: 'http://127.0.0.1:6000', requires: ['LogService'],
    registryUrl: 'http://127.0.0.1:9', clock: new FakeClock(), logger: recordingLogger(), ...options,
  });
  t.after(() => client.close());
  return client;
}

/** A client answering on a real server, so the registry's patches reach it. */
async function servedClient(t: TestContext, options: Partial<RegistryClientOptions>): Promise<RegistryClient> {
  const server = await listenLate();
  t.after(() => server.close());
  const client = bareClient(t, { url: server.url, ...options });
  server.use(client.requestListener());
  return client;
}

test('register applies the providers of the answer and sets lastRevision', async (t) => {
  const registry = await startRegistry(t);
  registry.addInstance('LogService', LOG_A);
  registry.addInstance('LogService', LOG_B, 'critical');
  registry.addInstance('Portal', 'http://127.0.0.1:5000');
  const client = bareClient(t, { registryUrl: registry.url, updateUrl: null });

  await client.register();

  assert.deepEqual(client.providers('LogService'), [LOG_A]);
  assert.equal(client.lastRevision, registry.revision);
  const sent = JSON.parse(registry.requests[0]?.body ?? '');
  assert.deepEqual(sent, { service: 'GradingService', url: 'http://127.0.0.1:6000', requires: ['LogService'], heartbeatUrl: 'http://127.0.0.1:6000/heartbeat' });
});

test('register applies the initial patch delivered to the update URL before the answer', async (t) => {
  const registry = await startRegistry(t);
  registry.addInstance('LogService', LOG_A);
  const clock = new FakeClock();
  registry.now = () => clock.now();
  const logger = recordingLogger();
  const client = await servedClient(t, { registryUrl: registry.url, clock, logger });
  const changes: ChangeEvent[] = [];
  client.on('change', (change) => changes.push(change));

  await client.register();

  assert.deepEqual(client.providers('LogService'), [LOG_A]);
  assert.deepEqual(changes, [{ service: 'LogService', added: [LOG_A], removed: [], revision: 2 }]);
  // The patch came before the key: held until the answer, then checked and found good.
  assert.equal(client.verifiesSignatures, true);
  assert.deepEqual(logger.messages('warn'), []);
});

test('applyPatch: applies in order, drops re-deliveries and older revisions', (t) => {
  const client = bareClient(t);
  client.applyPatch({ Added: [{ Name: 'LogService', URL: LOG_A }], Removed: [], Revision: 5, PrevRevision: 0 });
  client.applyPatch({ Added: [{ Name: 'LogService', URL: LOG_B }], Removed: [], Revision: 5, PrevRevision: 0 });
  client.applyPatch({ Added: [{ Name: 'LogService', URL: LOG_C }], Removed: [], Revision: 4, PrevRevision: 0 });
  assert.deepEqual(client.providers('LogService'), [LOG_A]);
  assert.equal(client.lastRevision, 5);

  client.applyPatch({ Added: null, Removed: [{ Name: 'LogService', URL: LOG_A }], Revision: 7, PrevRevision: 5 });
  assert.deepEqual(client.providers('LogService'), []);
  assert.equal(client.lastRevision, 7);
});

test('applyPatch: ignores services it does not require and duplicate URLs', (t) => {
  const client = bareClient(t);
  client.applyPatch({ Added: [{ Name: 'LogService', URL: LOG_A }, { Name: 'LogService', URL: LOG_A }, { Name: 'Portal', URL: LOG_B }], Removed: [] });
  assert.deepEqual(client.providers('LogService'), [LOG_A]);
  assert.deepEqual(client.providers('Portal'), []);
});

test('applyPatch: patches without Revision (course registry) apply as they come, null lists included', (t) => {
  const client = bareClient(t);
  client.applyPatch({ Added: [{ Name: 'LogService', URL: LOG_A }], Removed: null });
  client.applyPatch({ Added: [{ Name: 'LogService', URL: LOG_B }], Removed: null });
  client.applyPatch({ Added: null, Removed: [{ Name: 'LogService', URL: LOG_A }] });
  assert.deepEqual(client.providers('LogService'), [LOG_B]);
  assert.equal(client.lastRevision, 0);
});

test('applyPatch: a gap (PrevRevision beyond lastRevision) rebuilds the view from GET /v1/state', async (t) => {
  const registry = await startRegistry(t);
  const client = bareClient(t, { registryUrl: registry.url });
  client.applyPatch({ Added: [{ Name: 'LogService', URL: LOG_A }], Removed: [], Revision: 1, PrevRevision: 0 });
  registry.addInstance('LogService', LOG_B);
  registry.addInstance('LogService', LOG_C, 'critical');
  registry.addInstance('Portal', 'http://127.0.0.1:5000');
  registry.revision = 12;
  const changed = once(client, 'change');

  client.applyPatch({ Added: [{ Name: 'LogService', URL: 'http://127.0.0.1:4999' }], Removed: [], Revision: 10, PrevRevision: 8 });

  const [change] = (await changed) as [ChangeEvent];
  assert.deepEqual(change, { service: 'LogService', added: [LOG_B], removed: [LOG_A], revision: 12 });
  assert.equal(registry.count((r) => r.method === 'GET' && r.path === '/v1/state'), 1);
  assert.deepEqual(client.providers('LogService'), [LOG_B]);
  assert.equal(client.lastRevision, 12);
});

test('applyPatch: bad input throws INVALID_REQUEST', (t) => {
  const client = bareClient(t);
  assert.throws(() => client.applyPatch({ Added: 'LogService' }), (error: unknown) => error instanceof RosterError && error.code === 'INVALID_REQUEST');
  assert.throws(() => client.applyPatch(null), RosterError);
});

test('provider(): round-robin over the passing instances', (t) => {
  const client = bareClient(t);
  client.applyPatch({ Added: [LOG_A, LOG_B, LOG_C].map((URL) => ({ Name: 'LogService', URL })), Removed: [] });
  assert.deepEqual([1, 2, 3, 4].map(() => client.provider('LogService')), [LOG_A, LOG_B, LOG_C, LOG_A]);
});

test('provider(): strategy random picks one of the providers', (t) => {
  const client = bareClient(t, { strategy: 'random' });
  client.applyPatch({ Added: [LOG_A, LOG_B].map((URL) => ({ Name: 'LogService', URL })), Removed: [] });
  assert.ok([LOG_A, LOG_B].includes(client.provider('LogService')));
});

test('provider(): NO_PROVIDER names the service, and says why', (t) => {
  const client = bareClient(t);
  assert.throws(() => client.provider('LogService'), (error: unknown) => {
    assert.ok(error instanceof RosterError);
    assert.equal(error.code, 'NO_PROVIDER');
    assert.match(error.message, /no instance of service "LogService" is available \(.*register/);
    return true;
  });
  assert.throws(() => client.provider('Portal'), /service "Portal" .*not in this client's requires/);
});

test('waitFor resolves when a provider arrives and rejects on timeout naming the missing service', async (t) => {
  const clock = new FakeClock();
  const client = bareClient(t, { requires: ['LogService', 'Portal'], clock });
  const logReady = client.waitFor(['LogService']);
  client.applyPatch({ Added: [{ Name: 'LogService', URL: LOG_A }], Removed: [] });
  await logReady;

  const all = assert.rejects(client.waitFor(undefined, { timeoutMs: 1000 }), (error: unknown) => {
    return error instanceof RosterError && error.code === 'NO_PROVIDER' && /"Portal"/.test(error.message) && !/"LogService"/.test(error.message);
  });
  await clock.tick(1000);
  await all;
  assert.equal(clock.pending, 0);
  await assert.rejects(client.waitFor(['Unknown']), /"Unknown" not in this client's requires/);
});

test('course protocol: the exact registration body, no keep-alive loop, DELETE with the URL as text', async (t) => {
  const registry = await startRegistry(t);
  registry.addInstance('LogService', LOG_A);
  const clock = new FakeClock();
  const client = await servedClient(t, { registryUrl: registry.url, protocol: 'course', clock });

  await client.register();

  const post = await registry.waitForRequest((r) => r.method === 'POST' && r.path === '/services');
  const url = client.options.url;
  assert.equal(post.body, `{"ServiceName":"GradingService","ServiceURL":"${url}","RequiredServices":["LogService"],"ServiceUpdateURL":"${url}/services","HeartbeatURL":"${url}/heartbeat"}\n`);
  assert.equal(post.headers['content-type'], 'application/json');
  assert.deepEqual(client.providers('LogService'), [LOG_A]);
  // No renewal and no look-up: the course's registry has neither (its probes are all it has).
  const sent = registry.requests.length;
  await clock.tick(client.options.checkIntervalMs * 3);
  assert.equal(registry.requests.length, sent);
  await assert.rejects(client.refresh(), /needs protocol "roster"/);

  await client.deregister();
  const del = await registry.waitForRequest((r) => r.method === 'DELETE' && r.path === '/services');
  assert.equal(del.body, url);
  assert.match(String(del.headers['content-type']), /^text\/plain/);
  assert.equal(registry.instances.size, 1);
});

test('registry unreachable, registerRetry false: register throws REGISTRY_UNREACHABLE naming the URL and how to fix it', async (t) => {
  const dead = `http://127.0.0.1:${await freePort()}`;
  const client = bareClient(t, { registryUrl: dead, registerRetry: false });
  await assert.rejects(client.register(), (error: unknown) => {
    assert.ok(error instanceof RosterError);
    assert.equal(error.code, 'REGISTRY_UNREACHABLE');
    assert.ok(error.message.includes(dead), error.message);
    assert.match(error.message, /start it.*ROSTER_REGISTRY_URL/);
    return true;
  });
});

test('the registry\'s own errors come back as RosterError with its code and message', async (t) => {
  const registry = await startRegistry(t);
  registry.intercept = (r) => (r.method === 'POST' ? { status: 400, body: { code: 'INVALID_REQUEST', message: 'invalid registration: "service" bad' } } : undefined);
  const client = bareClient(t, { registryUrl: registry.url });
  await assert.rejects(client.register(), { name: 'RosterError', code: 'INVALID_REQUEST', message: 'invalid registration: "service" bad' });
});

test('failover: a registry URL that does not connect is skipped, and the client sticks to the one that worked', async (t) => {
  const first = await startRegistry(t);
  const second = await startRegistry(t);
  await first.stop();
  const client = bareClient(t, { registryUrl: [first.url, second.url], updateUrl: null });

  await client.register();
  assert.equal(client.registryUrl, second.url);
  await first.listen();
  await client.deregister();

  assert.equal(first.requests.length, 0);
  assert.deepEqual(second.requests.map((r) => r.method), ['POST', 'DELETE']);
});

test('deregister: idempotent, and a 404 (already forgotten) is fine', async (t) => {
  const registry = await startRegistry(t);
  const client = bareClient(t, { registryUrl: registry.url, updateUrl: null });
  await client.register();
  registry.instances.clear();

  await client.deregister();
  await client.deregister();

  const deletes = registry.requests.filter((r) => r.method === 'DELETE');
  assert.deepEqual(deletes.map((r) => r.path), [`/v1/instances/${instanceId(client.options.url)}`]);
});

test('a throwing change listener becomes a warning, not a crash', (t) => {
  const client = bareClient(t);
  const warnings: Error[] = [];
  client.on('warning', (error) => warnings.push(error));
  client.on('change', () => {
    throw new Error('listener bug');
  });
  client.applyPatch({ Added: [{ Name: 'LogService', URL: LOG_A }], Removed: [] });
  assert.deepEqual(client.providers('LogService'), [LOG_A]);
  assert.match(warnings[0]?.message ?? '', /listener bug/);
});
