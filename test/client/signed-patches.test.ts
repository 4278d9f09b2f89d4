// The update and heartbeat handlers of a client whose registry handed it a signing key: only
// what the registry signed, freshly and once, is taken.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryClient, type RegistryClientOptions } from '../../src/client/index.js';
import { SignatureGuard } from '../../src/client/signature-guard.js';
import { SIGNATURE_HEADER, newSigningKey, signPayload } from '../../src/protocol/index.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { FakeRegistry, listenLate, recordingLogger } from '../helpers/fake-registry.js';

const LOG_A = 'http://127.0.0.1:4001';
const EVIL = 'http://127.0.0.1:6666';

async function setup(t: TestContext, options: Partial<RegistryClientOptions> = {}, signing = true) {
  const registry = await FakeRegistry.start();
  t.after(() => registry.stop());
  registry.signing = signing;
  const clock = new FakeClock();
  registry.now = () => clock.now();
  const server = await listenLate();
  t.after(() => server.close());
  const logger = recordingLogger();
  const client = new RegistryClient({ service: 'Portal', url: server.url, requires: ['LogService'], registryUrl: registry.url, clock, logger, ...options });
  t.after(() => client.close());
  server.use(client.requestListener());
  await client.register();
  const updateUrl = `${server.url}/services`;
  const key = registry.keys.get(client.id);
  return { registry, clock, logger, client, updateUrl, key };
}

const patchTo = (url: string, revision: number) => ({ Added: [{ Name: 'LogService', URL: url }], Removed: [], Revision: revision, PrevRevision: revision - 1 });

async function post(url: string, body: string, signature?: string): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (signature !== undefined) headers[SIGNATURE_HEADER] = signature;
  const response = await fetch(url, { method: 'POST', headers, body });
  const text = await response.text();
  return { status: response.status, body: text && response.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : text };
}

test('a signed patch from the registry is applied', async (t) => {
  const { registry, client, updateUrl } = await setup(t);
  assert.equal(client.verifiesSignatures, true);
  const status = await registry.sendPatch(updateUrl, patchTo(LOG_A, client.lastRevision + 1));
  assert.equal(status, 200);
  assert.deepEqual(client.providers('LogService'), [LOG_A]);
});

test('unsigned, badly signed, stale and malformed patches are refused with 401 BAD_SIGNATURE; nothing is applied', async (t) => {
  const { clock, logger, client, updateUrl, key } = await setup(t);
  assert.ok(key);
  const body = JSON.stringify(patchTo(EVIL, client.lastRevision + 1));
  const cases: Array<[string, string | undefined, RegExp]> = [
    ['missing', undefined, /carries no roster-signature/],
    ['bad', signPayload(newSigningKey(), body, clock.now()), /does not match/],
    ['stale', signPayload(key, body, clock.now() - 10 * 60_000), /more than 5 minutes/],
    ['malformed', 'v1=abc', /not of the form/],
  ];
  for (const [check, signature, message] of cases) {
    const answer = await post(updateUrl, body, signature);
    assert.equal(answer.status, 401, check);
    const refusal = answer.body as { code: string; message: string };
    assert.equal(refusal.code, 'BAD_SIGNATURE', check);
    assert.match(refusal.message, message, check);
  }
  // Altered after signing: the signature covers the exact bytes.
  const genuine = signPayload(key, body, clock.now());
  assert.equal((await post(updateUrl, body.replace('6666', '6667'), genuine)).status, 401);

  assert.deepEqual(client.providers('LogService'), []);
  const warnings = logger.messages('warn');
  assert.equal(warnings.length, 5);
  assert.match(warnings[0] ?? '', /refused a patch at .*\/services \(missing\)/);
  assert.ok(warnings.every((line) => !line.includes(key)), 'the key is never logged');
});

test('a replayed patch is refused, even within the tolerance window', async (t) => {
  const { clock, client, updateUrl, key } = await setup(t);
  const body = JSON.stringify(patchTo(LOG_A, client.lastRevision + 1));
  const signature = signPayload(key as string, body, clock.now());
  assert.equal((await post(updateUrl, body, signature)).status, 200);
  await clock.tick(1000);
  const replay = await post(updateUrl, body, signature);
  assert.equal(replay.status, 401);
  assert.match((replay.body as { message: string }).message, /already used/);
});

test('bad JSON is never parsed before the signature is checked', async (t) => {
  const { updateUrl } = await setup(t);
  assert.equal((await post(updateUrl, '{"Added": [')).status, 401);
});

test('heartbeat: a signed probe is answered 200 (503 while draining), an unsigned or badly signed one 401', async (t) => {
  const { registry, client } = await setup(t);
  const heartbeatUrl = client.options.heartbeatUrl as string;
  assert.equal(await registry.probe(heartbeatUrl), 200);

  const unsigned = await fetch(heartbeatUrl);
  assert.equal(unsigned.status, 401);
  assert.equal(((await unsigned.json()) as { code: string }).code, 'BAD_SIGNATURE');
  // Signed for another path: a probe's signature covers its path and query.
  const elsewhere = signPayload(registry.keys.get(client.id) as string, 'GET /other', registry.now());
  const moved = await fetch(heartbeatUrl, { headers: { [SIGNATURE_HEADER]: elsewhere } });
  assert.equal(moved.status, 401);
  await moved.arrayBuffer();

  client.setDraining(true);
  assert.equal(await registry.probe(heartbeatUrl), 503);
});

test('an older registry hands out no key: unsigned patches and probes are taken as before', async (t) => {
  const { registry, client, updateUrl } = await setup(t, {}, false);
  assert.equal(client.verifiesSignatures, false);
  assert.equal(await registry.sendPatch(updateUrl, patchTo(LOG_A, client.lastRevision + 1), null), 200);
  assert.deepEqual(client.providers('LogService'), [LOG_A]);
  const heartbeat = await fetch(client.options.heartbeatUrl as string);
  assert.equal(heartbeat.status, 200);
  await heartbeat.arrayBuffer();
});

test('the course protocol takes unsigned patches (its registry signs nothing)', async (t) => {
  const { registry, client, updateUrl } = await setup(t, { protocol: 'course' });
  assert.equal(client.verifiesSignatures, false);
  assert.equal(await registry.sendPatch(updateUrl, { Added: [{ Name: 'LogService', URL: LOG_A }], Removed: null }, null), 200);
  assert.deepEqual(client.providers('LogService'), [LOG_A]);
});

test('a forged patch that comes during registration is held, checked against the new key, and dropped', async (t) => {
  const registry = await FakeRegistry.start();
  t.after(() => registry.stop());
  const clock = new FakeClock();
  registry.now = () => clock.now();
  const server = await listenLate();
  t.after(() => server.close());
  const logger = recordingLogger();
  const client = new RegistryClient({ service: 'Portal', url: server.url, requires: ['LogService'], registryUrl: registry.url, clock, logger });
  t.after(() => client.close());
  server.use(client.requestListener());
  // Before the registry answers, someone else posts a patch claiming a far revision.
  registry.beforeRegisterAnswer = async () => {
    assert.equal((await post(`${server.url}/services`, JSON.stringify(patchTo(EVIL, 5000)))).status, 200);
  };

  await client.register();

  assert.deepEqual(client.providers('LogService'), []);
  assert.equal(client.lastRevision, registry.revision);
  assert.match(logger.messages('warn').join('\n'), /refused a patch .*\(missing\)/);
});

test('patches beyond what a registration can hold are answered 503, so that the registry sends them again', async (t) => {
  const registry = await FakeRegistry.start();
  t.after(() => registry.stop());
  const server = await listenLate();
  t.after(() => server.close());
  const client = new RegistryClient({ service: 'Portal', url: server.url, requires: ['LogService'], registryUrl: registry.url, logger: recordingLogger() });
  t.after(() => client.close());
  server.use(client.requestListener());
  const statuses: number[] = [];
  registry.beforeRegisterAnswer = async () => {
    for (let n = 1; n <= 17; n++) statuses.push((await post(`${server.url}/services`, JSON.stringify(patchTo(EVIL, n)))).status);
  };

  await client.register();

  // The registry's own initial patch may take one of the sixteen places.
  const held = statuses.indexOf(503);
  assert.ok(held === 15 || held === 16, `held ${held} before refusing`);
  assert.deepEqual(statuses.slice(held), Array(17 - held).fill(503), 'once full, nothing more is acknowledged');
});

test('SignatureGuard: the replay memory is bounded; what it had to forget is refused, not taken twice', () => {
  const clock = new FakeClock();
  const key = newSigningKey();
  const guard = new SignatureGuard(clock, { memory: 3 });
  guard.setKey(key);
  const signed = (n: number) => ({ header: signPayload(key, `patch ${n}`, clock.now() + n), body: `patch ${n}` });
  const patches = [1, 2, 3, 4, 5].map(signed);
  for (const { header, body } of patches) assert.equal(guard.checkPatch(header, body), 'valid');
  for (const { header, body } of patches) assert.equal(guard.checkPatch(header, body), 'replayed');
  assert.equal(guard.checkPatch(signed(6).header, 'patch 6'), 'valid');
});

test('SignatureGuard: signatures older than the tolerance are forgotten (they fail as stale anyway)', async () => {
  const clock = new FakeClock();
  const key = newSigningKey();
  const guard = new SignatureGuard(clock, { memory: 2, toleranceMs: 1000 });
  guard.setKey(key);
  const first = signPayload(key, 'a', clock.now());
  assert.equal(guard.checkPatch(first, 'a'), 'valid');
  await clock.tick(2000);
  assert.equal(guard.checkPatch(first, 'a'), 'stale');
  // The old one expired from memory: the bound leaves room for new ones without raising the floor.
  assert.equal(guard.checkPatch(signPayload(key, 'b', clock.now()), 'b'), 'valid');
  assert.equal(guard.checkPatch(signPayload(key, 'c', clock.now() + 1), 'c'), 'valid');
});
