// A registration's routing metadata (weight, zone, tags): checked, refused with 400 naming the
// field, shown in the instance's view and kept by the store; registrations without it still pass.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { InjectOptions } from 'fastify';
import { Registry } from '../../src/registry/registry.js';
import { buildRegistryServer } from '../../src/registry/http/server.js';
import { parseInstanceRow } from '../../src/registry/store/rows.js';
import { parseRegisterRequest } from '../../src/protocol/validation.js';
import { RosterError } from '../../src/protocol/errors.js';
import { FakeClock } from '../helpers/fake-clock.js';

const ADMIN_TOKEN = 'routing-metadata-admin-token-0123';
const valid = { service: 'LogService', url: 'http://127.0.0.1:4000', heartbeatUrl: 'http://127.0.0.1:4000/heartbeat' };

function setup(t: TestContext) {
  const registry = new Registry({
    clock: new FakeClock(),
    channel: { send: async () => undefined, close: async () => undefined },
    probe: async () => undefined,
    options: { initialDeliveryWaitMs: 0 },
  });
  const server = buildRegistryServer(registry, { auth: { adminToken: ADMIN_TOKEN } });
  t.after(async () => {
    await server.close();
    await registry.close();
  });
  const inject = (request: InjectOptions) => server.inject({ ...request, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...request.headers } });
  const register = (body: unknown) => inject({ method: 'POST', url: '/v1/instances', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
  return { inject, register };
}

const refusals: Array<[string, unknown, RegExp]> = [
  ['a weight above 1000', { weight: 1001 }, /"metadata\.weight" must be a whole number from 0 to 1000/],
  ['a negative weight', { weight: -1 }, /"metadata\.weight" must be a whole number from 0 to 1000/],
  ['a fractional weight', { weight: 2.5 }, /"metadata\.weight" must be a whole number/],
  ['a weight as text', { weight: '100' }, /"metadata\.weight" must be a whole number/],
  ['an empty zone', { zone: '' }, /"metadata\.zone" must not be empty/],
  ['a zone of 65 characters', { zone: 'z'.repeat(65) }, /"metadata\.zone" must be at most 64 characters/],
  ['a zone with a line break', { zone: 'eu\nwest' }, /"metadata\.zone" must not contain control characters/],
  ['a zone that is a number', { zone: 1 }, /"metadata\.zone"/],
  ['an empty tag', { tags: ['eu', ''] }, /"metadata\.tags\.1" must not be empty/],
];

for (const [name, metadata, message] of refusals) {
  test(`a registration with ${name} is refused with 400 naming the field, and nothing is registered`, async (t) => {
    const { register, inject } = setup(t);
    const response = await register({ ...valid, metadata });
    assert.equal(response.statusCode, 400, response.body);
    const body = response.json() as { code: string; message: string };
    assert.equal(body.code, 'INVALID_REQUEST');
    assert.match(body.message, message);
    const state = (await inject({ method: 'GET', url: '/v1/state' })).json() as { instances: unknown[] };
    assert.deepEqual(state.instances, []);
  });
}

test('weight, zone and tags are shown in the instance\'s view; without them the view is as before', async (t) => {
  const { register, inject } = setup(t);
  const metadata = { version: '1.2.0', weight: 0, zone: 'eu-west-1', tags: ['canary', 'gpu'] };
  assert.equal((await register({ ...valid, metadata })).statusCode, 201);
  assert.equal((await register({ ...valid, url: 'http://127.0.0.1:4001', heartbeatUrl: 'http://127.0.0.1:4001/heartbeat' })).statusCode, 201);

  const state = (await inject({ method: 'GET', url: '/v1/state' })).json() as { instances: Array<{ url: string; metadata: unknown }> };
  const byUrl = new Map(state.instances.map((instance) => [instance.url, instance.metadata]));
  assert.deepEqual(byUrl.get(valid.url), metadata);
  assert.deepEqual(byUrl.get('http://127.0.0.1:4001'), {});
});

test('the schema takes the bounds themselves', () => {
  for (const weight of [0, 1000]) assert.equal(parseRegisterRequest({ ...valid, metadata: { weight } }).metadata?.weight, weight);
  assert.equal(parseRegisterRequest({ ...valid, metadata: { zone: 'z'.repeat(64) } }).metadata?.zone, 'z'.repeat(64));
  assert.throws(() => parseRegisterRequest({ ...valid, metadata: { zone: 'a\u2028b' } }), RosterError);
});

test('stored rows keep weight, zone and tags; rows written without them still load', () => {
  const row = {
    id: 'abc', service: 'LogService', url: valid.url, requires: [], updateUrl: null, heartbeatUrl: valid.heartbeatUrl, ttlMs: null,
    metadata: {}, health: 'passing', protocol: 'v1', owner: null, registeredAt: 1, revision: 1,
    lastCheckAt: null, lastCheckMs: null, lastError: null, criticalSince: null, signingKey: null,
  };
  const source = { store: 'test store', key: 'instances/abc' };
  const routing = { weight: 250, zone: 'b', tags: ['gpu'] };
  assert.deepEqual(parseInstanceRow(JSON.parse(JSON.stringify({ ...row, metadata: routing })), source).metadata, routing);
  assert.deepEqual(parseInstanceRow(JSON.parse(JSON.stringify(row)), source).metadata, {});
});
