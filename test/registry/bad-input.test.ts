// Every malformed request is answered 4xx with a clear error, and the catalog stays as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InjectOptions } from 'fastify';
import { Registry } from '../../src/registry/registry.js';
import { buildRegistryServer } from '../../src/registry/http/server.js';
import { FakeClock } from '../helpers/fake-clock.js';

const ADMIN_TOKEN = 'bad-input-admin-token-0123';
const valid = { service: 'LogService', url: 'http://127.0.0.1:4000', heartbeatUrl: 'http://127.0.0.1:4000/heartbeat' };
const json = (body: unknown): Partial<InjectOptions> => ({ headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
const v1 = (body: unknown): InjectOptions => ({ method: 'POST', url: '/v1/instances', ...json(body) });
const course = (body: unknown): InjectOptions => ({ method: 'POST', url: '/services', ...json(body) });
const courseValid = {
  ServiceName: 'GradingService',
  ServiceURL: 'http://127.0.0.1:6000',
  RequiredServices: ['LogService'],
  ServiceUpdateURL: 'http://127.0.0.1:6000/services',
  HeartbeatURL: 'http://127.0.0.1:6000/heartbeat',
};

const cases: Array<{ name: string; request: InjectOptions; status: number; code?: string; message: RegExp }> = [
  { name: 'not JSON', request: { method: 'POST', url: '/v1/instances', headers: { 'content-type': 'application/json' }, payload: '{"service":' }, status: 400, code: 'INVALID_REQUEST', message: /not valid JSON/ },
  { name: 'empty body', request: { method: 'POST', url: '/v1/instances', headers: { 'content-type': 'application/json' }, payload: '' }, status: 400, code: 'INVALID_REQUEST', message: /empty/ },
  { name: 'text/plain body', request: { method: 'POST', url: '/v1/instances', headers: { 'content-type': 'text/plain' }, payload: JSON.stringify(valid) }, status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: /application\/json/ },
  { name: 'a JSON array', request: v1([valid]), status: 400, code: 'INVALID_REQUEST', message: /registration/ },
  { name: 'no service', request: v1({ url: valid.url }), status: 400, code: 'INVALID_REQUEST', message: /"service"/ },
  { name: 'a service name with a space', request: v1({ ...valid, service: 'Log Service' }), status: 400, code: 'INVALID_REQUEST', message: /"service" must start with a letter/ },
  { name: 'an empty service name', request: v1({ ...valid, service: '' }), status: 400, code: 'INVALID_REQUEST', message: /"service" must not be empty/ },
  { name: 'a service name of 65 characters', request: v1({ ...valid, service: 'S'.repeat(65) }), status: 400, code: 'INVALID_REQUEST', message: /at most 64/ },
  { name: 'an ftp URL', request: v1({ ...valid, url: 'ftp://127.0.0.1/' }), status: 400, code: 'INVALID_REQUEST', message: /"url" must be an absolute http/ },
  { name: 'a javascript: URL', request: v1({ ...valid, url: 'javascript:alert(1)' }), status: 400, code: 'INVALID_REQUEST', message: /"url"/ },
  { name: 'a relative URL', request: v1({ ...valid, url: '/log' }), status: 400, code: 'INVALID_REQUEST', message: /"url"/ },
  { name: 'a URL of 3000 characters', request: v1({ ...valid, url: `http://h/${'a'.repeat(3000)}` }), status: 400, code: 'INVALID_REQUEST', message: /at most 2048/ },
  { name: 'requires is a string', request: v1({ ...valid, requires: 'GradingService' }), status: 400, code: 'INVALID_REQUEST', message: /"requires"/ },
  { name: 'requires holds a bad name', request: v1({ ...valid, requires: ['ok', 'not ok'] }), status: 400, code: 'INVALID_REQUEST', message: /"requires.1"/ },
  { name: 'requires lists a service twice', request: v1({ ...valid, requires: ['A', 'A'] }), status: 400, code: 'INVALID_REQUEST', message: /twice/ },
  { name: 'requires lists 65 services', request: v1({ ...valid, requires: Array.from({ length: 65 }, (_, i) => `S${i}`) }), status: 400, code: 'INVALID_REQUEST', message: /at most 64/ },
  { name: 'a bad updateUrl', request: v1({ ...valid, updateUrl: 'localhost:4000/services' }), status: 400, code: 'INVALID_REQUEST', message: /"updateUrl"/ },
  { name: 'heartbeatUrl and ttlMs together', request: v1({ ...valid, ttlMs: 5000 }), status: 400, code: 'INVALID_REQUEST', message: /either heartbeatUrl .* or ttlMs/ },
  { name: 'a ttlMs of 10 ms', request: v1({ service: 'A', url: valid.url, ttlMs: 10 }), status: 400, code: 'INVALID_REQUEST', message: /"ttlMs"/ },
  { name: 'an unknown field', request: v1({ ...valid, colour: 'red' }), status: 400, code: 'INVALID_REQUEST', message: /unknown field\(s\) "colour"/ },
  { name: 'tags that are not a list', request: v1({ ...valid, metadata: { tags: 'a,b' } }), status: 400, code: 'INVALID_REQUEST', message: /"metadata.tags"/ },
  { name: 'metadata over 4 KiB', request: v1({ ...valid, metadata: { notes: 'x'.repeat(5000) } }), status: 400, code: 'INVALID_REQUEST', message: /at most 4096 bytes/ },
  { name: 'a body over 256 KiB', request: v1({ ...valid, metadata: { notes: 'x'.repeat(300_000) } }), status: 413, code: 'PAYLOAD_TOO_LARGE', message: /larger than 262144 bytes/ },
  { name: 'renewing an unknown instance', request: { method: 'POST', url: '/v1/instances/AAAAAAAAAAAAAAAA/renew' }, status: 404, code: 'INSTANCE_NOT_FOUND', message: /register again/ },
  { name: 'deregistering an unknown instance', request: { method: 'DELETE', url: '/v1/instances/AAAAAAAAAAAAAAAA' }, status: 404, code: 'INSTANCE_NOT_FOUND', message: /no instance/ },
  { name: 'an instance id with a dot', request: { method: 'DELETE', url: '/v1/instances/a.b' }, status: 400, code: 'INVALID_REQUEST', message: /instance id/ },
  { name: 'a service name with a space in the path', request: { method: 'GET', url: '/v1/services/Log%20Service' }, status: 400, code: 'INVALID_REQUEST', message: /"name"/ },
  { name: 'an unknown service', request: { method: 'GET', url: '/v1/services/Nobody' }, status: 404, code: 'SERVICE_NOT_FOUND', message: /"Nobody"/ },
  { name: 'an unknown route', request: { method: 'GET', url: '/v1/nothing' }, status: 404, code: 'NOT_FOUND', message: /no route GET \/v1\/nothing/ },
  { name: 'a method /v1/services does not take', request: { method: 'PUT', url: '/v1/services' }, status: 405, code: 'METHOD_NOT_ALLOWED', message: /^method PUT is not allowed on \/v1\/services; it takes GET, HEAD/ },
  { name: 'a method an instance does not take', request: { method: 'PATCH', url: '/v1/instances/AAAAAAAAAAAAAAAA' }, status: 405, code: 'METHOD_NOT_ALLOWED', message: /it takes DELETE, GET, HEAD/ },
  { name: 'a look-up by URL without the URL', request: { method: 'GET', url: '/v1/instances' }, status: 400, code: 'INVALID_REQUEST', message: /^GET \/v1\/instances needs the instance URL: \?url=<url>/ },
  { name: 'a path segment far over any id', request: { method: 'GET', url: `/v1/instances/${'a'.repeat(500)}` }, status: 414, code: 'URI_TOO_LONG', message: /^the path is too long/ },
  { name: 'course: bad JSON', request: { method: 'POST', url: '/services', headers: { 'content-type': 'application/json' }, payload: '{' }, status: 400, message: /not valid JSON/ },
  { name: 'course: no ServiceName', request: course({ ...courseValid, ServiceName: undefined }), status: 400, message: /"ServiceName"/ },
  { name: 'course: a bad ServiceURL', request: course({ ...courseValid, ServiceURL: 'localhost:6000' }), status: 400, message: /"ServiceURL"/ },
  { name: 'course: a bad HeartbeatURL', request: course({ ...courseValid, HeartbeatURL: 'file:///etc/passwd' }), status: 400, message: /"HeartbeatURL"/ },
  { name: 'course: RequiredServices is a string', request: course({ ...courseValid, RequiredServices: 'LogService' }), status: 400, message: /"RequiredServices"/ },
  { name: 'course: DELETE with no body', request: { method: 'DELETE', url: '/services', headers: { 'content-type': 'text/plain' }, payload: '' }, status: 400, message: /ServiceURL/ },
  { name: 'course: DELETE of an unknown URL', request: { method: 'DELETE', url: '/services', headers: { 'content-type': 'text/plain' }, payload: 'http://127.0.0.1:9' }, status: 404, message: /no instance/ },
  { name: 'course: PUT', request: { method: 'PUT', url: '/services', ...json(courseValid) }, status: 405, message: /method not allowed/ },
];

async function setup(t: import('node:test').TestContext) {
  const clock = new FakeClock();
  const registry = new Registry({
    clock,
    channel: { send: async () => undefined, close: async () => undefined },
    probe: async () => undefined,
    options: { initialDeliveryWaitMs: 0 },
  });
  const server = buildRegistryServer(registry, { auth: { adminToken: ADMIN_TOKEN } });
  t.after(async () => {
    await server.close();
    await registry.close();
  });
  // Authenticated as an admin: these requests are refused for what they say, not for who sends them.
  const app = { inject: (request: InjectOptions) => server.inject({ ...request, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...request.headers } }) };
  const seeded = await app.inject(v1(valid));
  assert.equal(seeded.statusCode, 201);
  return app;
}

for (const { name, request, status, code, message } of cases) {
  test(`bad input is refused and changes nothing: ${name}`, async (t) => {
    const app = await setup(t);
    const before = (await app.inject({ method: 'GET', url: '/v1/state' })).json();

    const response = await app.inject(request);

    assert.equal(response.statusCode, status, response.body);
    if (code) {
      assert.match(String(response.headers['content-type']), /application\/json/);
      const body = response.json() as { code: string; message: string };
      assert.deepEqual(Object.keys(body).sort(), ['code', 'message']);
      assert.equal(body.code, code);
      assert.match(body.message, message);
    } else {
      assert.match(String(response.headers['content-type']), /text\/plain/);
      assert.match(response.body, message);
    }
    const after = (await app.inject({ method: 'GET', url: '/v1/state' })).json();
    assert.deepEqual(after, before);
  });
}

test('a lookup answered from the cache still changes with the catalog, and a bad name is still refused', async (t) => {
  const app = await setup(t);
  const lookup = async (name: string) => app.inject({ method: 'GET', url: `/v1/services/${name}` });
  const urls = async () => ((await lookup('LogService')).json() as { service: { instances: Array<{ url: string }> } }).service.instances.map((i) => i.url);

  assert.deepEqual(await urls(), [valid.url]);
  assert.deepEqual(await urls(), [valid.url], 'answered again from the cache');
  const second = { service: 'LogService', url: 'http://127.0.0.1:4001', ttlMs: 5000 };
  assert.equal((await app.inject(v1(second))).statusCode, 201);
  assert.deepEqual((await urls()).sort(), [valid.url, second.url], 'a registration shows at once');

  const bad = await lookup('Log%20Service');
  assert.equal(bad.statusCode, 400);
  assert.equal((bad.json() as { code: string }).code, 'INVALID_REQUEST');
});

test('a wrong method names the methods the path takes in Allow', async (t) => {
  const app = await setup(t);
  const response = await app.inject({ method: 'POST', url: '/v1/state' });
  assert.equal(response.statusCode, 405);
  assert.equal(response.headers.allow, 'GET, HEAD');
});

test('a service that is required but has no instance is found with no instances, as /v1/services lists it', async (t) => {
  const app = await setup(t);
  const dependent = { service: 'Caller', url: 'http://127.0.0.1:4002', requires: ['Missing'], ttlMs: 5000 };
  assert.equal((await app.inject(v1(dependent))).statusCode, 201);

  const one = await app.inject({ method: 'GET', url: '/v1/services/Missing' });
  assert.equal(one.statusCode, 200, one.body);
  const listed = ((await app.inject({ method: 'GET', url: '/v1/services' })).json() as { services: Array<{ name: string }> }).services.find((s) => s.name === 'Missing');
  assert.deepEqual((one.json() as { service: unknown }).service, listed);
  assert.deepEqual((one.json() as { service: { instances: unknown[]; requiredBy: string[] } }).service.instances, []);

  const nobody = await app.inject({ method: 'GET', url: '/v1/services/Nobody' });
  assert.equal(nobody.statusCode, 404);
  assert.equal((nobody.json() as { code: string }).code, 'SERVICE_NOT_FOUND');
});
