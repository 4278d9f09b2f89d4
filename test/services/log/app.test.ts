import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildLogApp, openLogStore, type FileLogStore, type Writer } from '../../../src/services/log/index.js';

const NOW = Date.parse('2026-03-04T05:06:07.000Z');

/** The tokens the stand-in registry knows, as GET /v1/auth/whoami would describe them. */
const WRITERS: Record<string, Writer> = {
  'portal-secret-0123456789': { name: 'portal', scopes: ['register'], services: ['Portal'] },
  'grading-secret-0123456789': { name: 'grading', scopes: ['register'], services: ['GradingService'] },
  'ops-secret-0123456789': { name: 'ops', scopes: ['register'], services: ['Portal', 'GradingService'] },
  'viewer-secret-0123456789': { name: 'viewer', scopes: ['read'], services: null },
};
const AS_PORTAL = { authorization: 'Bearer portal-secret-0123456789' };
const AS_GRADING = { authorization: 'Bearer grading-secret-0123456789' };
const AS_VIEWER = { authorization: 'Bearer viewer-secret-0123456789' };

interface Harness {
  app: FastifyInstance;
  store: FileLogStore;
  lines(): string[];
  /** The tokens the app asked the stand-in registry about, in order. */
  asked: string[];
}

async function harness(t: TestContext): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'roster-log-app-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = await openLogStore({ dir });
  const asked: string[] = [];
  const identity = { identify: async (token: string) => (asked.push(token), WRITERS[token] ?? null) };
  const app = buildLogApp({ store, now: () => NOW, identity });
  t.after(async () => {
    await app.close();
    await store.close();
  });
  const lines = (): string[] => readFileSync(store.path, 'utf8').split('\n').filter((line) => line !== '');
  return { app, store, lines, asked };
}

test('course POST /log: text/plain with a trailing newline → 200, empty body, one entry on disk', async (t) => {
  const { app, lines } = await harness(t);

  const res = await app.inject({ method: 'POST', url: '/log', headers: { 'content-type': 'text/plain' }, payload: '[GradingService] - Graded 5 students\n' });

  assert.equal(res.statusCode, 200);
  assert.equal(res.body, '');
  // Read right after the answer: the entry is already on disk.
  assert.deepEqual(lines(), ['{"time":"2026-03-04T05:06:07.000Z","service":"GradingService","level":"info","message":"Graded 5 students"}']);
});

test('course POST /log takes any content type, or none, and keeps text without a prefix under "unknown"', async (t) => {
  const { app, store } = await harness(t);

  const json = await app.inject({ method: 'POST', url: '/log', headers: { 'content-type': 'application/json' }, payload: '{"not":"parsed"}' });
  const none = await app.inject({ method: 'POST', url: '/log', payload: Buffer.from('[Portal] - no content type') });

  assert.equal(json.statusCode, 200);
  assert.equal(none.statusCode, 200);
  assert.deepEqual(store.recent().map(({ service, message }) => ({ service, message })), [
    { service: 'Portal', message: 'no content type' },
    { service: 'unknown', message: '{"not":"parsed"}' },
  ]);
});

test('course POST /log: a message with "\\n[Fake] - forged" stays ONE entry', async (t) => {
  const { app, lines } = await harness(t);

  const res = await app.inject({ method: 'POST', url: '/log', headers: { 'content-type': 'text/plain' }, payload: '[GradingService] - real\n[Fake] - forged\n' });

  assert.equal(res.statusCode, 200);
  assert.equal(lines().length, 1);
  assert.deepEqual(JSON.parse(lines()[0] ?? ''), { time: '2026-03-04T05:06:07.000Z', service: 'GradingService', level: 'info', message: 'real\n[Fake] - forged' });
});

test('course POST /log: an empty body → 400 and nothing written', async (t) => {
  const { app, lines } = await harness(t);

  const empty = await app.inject({ method: 'POST', url: '/log', headers: { 'content-type': 'text/plain' }, payload: '' });
  const newline = await app.inject({ method: 'POST', url: '/log', headers: { 'content-type': 'text/plain' }, payload: '\n' });

  assert.equal(empty.statusCode, 400);
  assert.equal(newline.statusCode, 400);
  assert.deepEqual(lines(), []);
});

test('course /log: other methods → 405 with Allow: POST', async (t) => {
  const { app } = await harness(t);
  for (const method of ['GET', 'PUT', 'DELETE', 'PATCH'] as const) {
    const res = await app.inject({ method, url: '/log' });
    assert.equal(res.statusCode, 405, method);
    assert.equal(res.headers.allow, 'POST');
  }
});

test('POST /v1/logs: one entry → 201 { accepted: 1 }, default time now, on disk when answered', async (t) => {
  const { app, lines } = await harness(t);

  const res = await app.inject({ method: 'POST', url: '/v1/logs', headers: AS_PORTAL, payload: { service: 'Portal', level: 'warn', message: 'slow page' } });

  assert.equal(res.statusCode, 201);
  assert.deepEqual(res.json(), { accepted: 1 });
  assert.deepEqual(lines().map((line) => JSON.parse(line)), [{ time: '2026-03-04T05:06:07.000Z', service: 'Portal', level: 'warn', message: 'slow page' }]);
});

test('POST /v1/logs: a batch keeps its order, stamped with the time of receipt; claimed times are kept as clientTime in UTC', async (t) => {
  const { app, store } = await harness(t);

  const res = await app.inject({
    method: 'POST',
    url: '/v1/logs',
    headers: AS_PORTAL,
    payload: [
      { service: 'Portal', level: 'info', message: 'first', time: '2026-01-01T02:00:00+02:00' },
      { service: 'Portal', level: 'error', message: 'second' },
    ],
  });

  assert.equal(res.statusCode, 201);
  assert.deepEqual(res.json(), { accepted: 2 });
  assert.deepEqual(store.recent(), [
    { time: '2026-03-04T05:06:07.000Z', service: 'Portal', level: 'error', message: 'second' },
    { time: '2026-03-04T05:06:07.000Z', service: 'Portal', level: 'info', message: 'first', clientTime: '2026-01-01T00:00:00.000Z' },
  ]);
});

const BAD_BODIES: Array<{ name: string; payload: string; contentType?: string; status: number; code: string; mentions?: RegExp }> = [
  { name: 'bad JSON', payload: '{"service":', status: 400, code: 'INVALID_REQUEST' },
  { name: 'bad level', payload: JSON.stringify({ service: 'Portal', level: 'loud', message: 'x' }), status: 400, code: 'INVALID_REQUEST', mentions: /"level"/ },
  { name: 'too long message', payload: JSON.stringify({ service: 'Portal', level: 'info', message: 'x'.repeat(16 * 1024 + 1) }), status: 400, code: 'INVALID_REQUEST', mentions: /"message"/ },
  { name: 'bad service name', payload: JSON.stringify({ service: '../etc', level: 'info', message: 'x' }), status: 400, code: 'INVALID_REQUEST', mentions: /"service"/ },
  { name: 'bad time', payload: JSON.stringify({ service: 'Portal', level: 'info', message: 'x', time: 'yesterday' }), status: 400, code: 'INVALID_REQUEST', mentions: /"time"/ },
  { name: 'unknown field', payload: JSON.stringify({ service: 'Portal', level: 'info', message: 'x', extra: 1 }), status: 400, code: 'INVALID_REQUEST', mentions: /extra/ },
  { name: 'one bad entry in a batch', payload: JSON.stringify([{ service: 'Portal', level: 'info', message: 'ok' }, { service: 'Portal', level: 'info' }]), status: 400, code: 'INVALID_REQUEST', mentions: /"1\.message"/ },
  { name: 'empty batch', payload: '[]', status: 400, code: 'INVALID_REQUEST' },
  { name: 'batch over 1000', payload: JSON.stringify(Array.from({ length: 1001 }, () => ({ service: 'Portal', level: 'info', message: 'x' }))), status: 400, code: 'INVALID_REQUEST' },
  { name: 'text body', payload: 'hello', contentType: 'text/plain', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
];

for (const bad of BAD_BODIES) {
  test(`POST /v1/logs with ${bad.name} → ${bad.status} { code, message } and nothing written`, async (t) => {
    const { app, lines } = await harness(t);

    const res = await app.inject({ method: 'POST', url: '/v1/logs', headers: { ...AS_PORTAL, 'content-type': bad.contentType ?? 'application/json' }, payload: bad.payload });

    assert.equal(res.statusCode, bad.status);
    const body = res.json();
    assert.equal(body.code, bad.code);
    assert.equal(typeof body.message, 'string');
    if (bad.mentions) assert.match(body.message, bad.mentions);
    assert.deepEqual(lines(), []);
  });
}

test('GET /v1/logs filters by service and minimum level, newest first, with a limit', async (t) => {
  const { app, store } = await harness(t);
  const at = (s: number): string => new Date(NOW + s * 1000).toISOString();
  await store.append([
    { time: at(1), service: 'Portal', level: 'debug', message: 'p-debug' },
    { time: at(2), service: 'GradingService', level: 'warn', message: 'g-warn' },
    { time: at(3), service: 'Portal', level: 'error', message: 'p-error' },
    { time: at(4), service: 'Portal', level: 'info', message: 'p-info' },
  ]);
  const messages = async (query: string): Promise<string[]> => {
    const res = await app.inject({ method: 'GET', url: `/v1/logs${query}`, headers: AS_VIEWER });
    assert.equal(res.statusCode, 200);
    return res.json().entries.map((e: { message: string }) => e.message);
  };

  assert.deepEqual(await messages(''), ['p-info', 'p-error', 'g-warn', 'p-debug']);
  assert.deepEqual(await messages('?service=Portal'), ['p-info', 'p-error', 'p-debug']);
  assert.deepEqual(await messages('?level=warn'), ['p-error', 'g-warn']);
  assert.deepEqual(await messages('?service=Portal&level=info&limit=1'), ['p-info']);
  const full = await app.inject({ method: 'GET', url: '/v1/logs?limit=1', headers: AS_PORTAL });
  assert.deepEqual(full.json(), { entries: [{ time: at(4), service: 'Portal', level: 'info', message: 'p-info' }] });
});

test('GET /v1/logs defaults to 100 entries and refuses a limit over 1000 or a bad level', async (t) => {
  const { app, store } = await harness(t);
  await store.append(Array.from({ length: 150 }, (_, i) => ({ time: new Date(NOW).toISOString(), service: 'Portal', level: 'info' as const, message: `${i}` })));

  const page = await app.inject({ method: 'GET', url: '/v1/logs', headers: AS_VIEWER });
  const tooMany = await app.inject({ method: 'GET', url: '/v1/logs?limit=1001', headers: AS_VIEWER });
  const badLevel = await app.inject({ method: 'GET', url: '/v1/logs?level=loud', headers: AS_VIEWER });

  assert.equal(page.json().entries.length, 100);
  assert.equal(page.json().entries[0].message, '149');
  assert.equal(tooMany.statusCode, 400);
  assert.equal(tooMany.json().code, 'INVALID_REQUEST');
  assert.match(tooMany.json().message, /"limit"/);
  assert.equal(badLevel.statusCode, 400);
});

test('unknown routes and methods answer { code, message }', async (t) => {
  const { app } = await harness(t);
  const missing = await app.inject({ method: 'GET', url: '/nope' });
  const method = await app.inject({ method: 'DELETE', url: '/v1/logs', headers: AS_PORTAL });
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json().code, 'NOT_FOUND');
  assert.equal(method.statusCode, 405);
  assert.equal(method.json().code, 'METHOD_NOT_ALLOWED');
});

// ---- who may write and read /v1/logs

test('POST /v1/logs without a token, or with one the registry does not know → 401, nothing written', async (t) => {
  const { app, lines } = await harness(t);
  const entry = { service: 'Portal', level: 'info', message: 'anonymous' };
  for (const headers of [{}, { authorization: 'Bearer not-a-known-token' }, { authorization: 'Basic cG9ydGFsOnNlY3JldA==' }]) {
    const res = await app.inject({ method: 'POST', url: '/v1/logs', headers, payload: entry });
    assert.equal(res.statusCode, 401, JSON.stringify(headers));
    assert.equal(res.headers['www-authenticate'], 'Bearer');
    assert.equal(res.json().code, 'UNAUTHORIZED');
  }
  assert.deepEqual(lines(), []);
});

test('GET /v1/logs needs a token too; a read-only token may read but not write', async (t) => {
  const { app, lines } = await harness(t);
  const anonymous = await app.inject({ method: 'GET', url: '/v1/logs' });
  assert.equal(anonymous.statusCode, 401);
  assert.equal(anonymous.json().code, 'UNAUTHORIZED');

  assert.equal((await app.inject({ method: 'GET', url: '/v1/logs', headers: AS_VIEWER })).statusCode, 200);
  const write = await app.inject({ method: 'POST', url: '/v1/logs', headers: AS_VIEWER, payload: { level: 'info', message: 'x' } });
  assert.equal(write.statusCode, 403);
  assert.equal(write.json().code, 'FORBIDDEN');
  assert.match(write.json().message, /register/);
  assert.deepEqual(lines(), []);
});

test("a forged entry is stored as its writer, at the time it arrived: another service's name and a back-dated time change nothing", async (t) => {
  const { app, lines } = await harness(t);

  const res = await app.inject({
    method: 'POST',
    url: '/v1/logs',
    headers: AS_GRADING,
    payload: { service: 'Portal', level: 'error', message: 'teacher deleted every grade', time: '2020-01-01T00:00:00Z' },
  });

  assert.equal(res.statusCode, 201);
  assert.deepEqual(lines().map((line) => JSON.parse(line)), [
    { time: '2026-03-04T05:06:07.000Z', service: 'GradingService', level: 'error', message: 'teacher deleted every grade', clientTime: '2020-01-01T00:00:00.000Z' },
  ]);
});

test('a token for several services (or any) writes under its own name; an entry may leave out service', async (t) => {
  const { app, store } = await harness(t);
  const res = await app.inject({ method: 'POST', url: '/v1/logs', headers: { authorization: 'Bearer ops-secret-0123456789' }, payload: { level: 'info', message: 'deploy' } });
  assert.equal(res.statusCode, 201);
  assert.deepEqual(store.recent().map(({ service }) => service), ['ops']);
});

// ---- the course's POST /log: no credential, so only from allowed peers and never from a browser

async function courseApp(t: TestContext, course: { enabled?: boolean; sources?: string[] }): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'roster-log-app-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = await openLogStore({ dir });
  const app = buildLogApp({ store, now: () => NOW, identity: { identify: async () => null }, course });
  t.after(async () => {
    await app.close();
    await store.close();
  });
  return { app, store, asked: [], lines: () => readFileSync(store.path, 'utf8').split('\n').filter((line) => line !== '') };
}

const COURSE_LINE = { method: 'POST', url: '/log', headers: { 'content-type': 'text/plain' }, payload: '[GradingService] - hello\n' } as const;

test('course POST /log with an Origin header (a web page) → 403, nothing written', async (t) => {
  const { app, lines } = await harness(t);
  const res = await app.inject({ ...COURSE_LINE, headers: { ...COURSE_LINE.headers, origin: 'http://127.0.0.1:8080' } });
  assert.equal(res.statusCode, 403);
  assert.match(res.body, /Origin/);
  assert.deepEqual(lines(), []);
});

test('course POST /log from an address outside the allowed sources → 403 naming them; loopback (also IPv4-mapped) passes', async (t) => {
  const { app, lines } = await harness(t);
  const outside = await app.inject({ ...COURSE_LINE, remoteAddress: '10.1.2.3' });
  assert.equal(outside.statusCode, 403);
  assert.match(outside.body, /accepted only from 127\.0\.0\.0\/8, ::1\/128; this request came from 10\.1\.2\.3/);
  for (const remoteAddress of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) assert.equal((await app.inject({ ...COURSE_LINE, remoteAddress })).statusCode, 200, remoteAddress);
  assert.equal(lines().length, 3);
});

test('course POST /log: the allowed sources are an option', async (t) => {
  const { app } = await courseApp(t, { sources: ['10.0.0.0/8'] });
  assert.equal((await app.inject({ ...COURSE_LINE, remoteAddress: '10.1.2.3' })).statusCode, 200);
  assert.equal((await app.inject({ ...COURSE_LINE, remoteAddress: '127.0.0.1' })).statusCode, 403);
  assert.throws(() => buildLogApp({ store: { append: async () => {}, recent: () => [], close: async () => {} }, identity: { identify: async () => null }, course: { sources: ['not-a-cidr'] } }), /course\.sources.*not-a-cidr/);
});

test('course POST /log switched off → 404 saying so, nothing written', async (t) => {
  const { app, lines } = await courseApp(t, { enabled: false });
  const res = await app.inject(COURSE_LINE);
  assert.equal(res.statusCode, 404);
  assert.match(res.body, /switched off/);
  assert.deepEqual(lines(), []);
});

test('without a way to check tokens (a course registry) /v1/logs answers 404 pointing to POST /log, which still works', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'roster-log-app-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = await openLogStore({ dir });
  const app = buildLogApp({ store, now: () => NOW, identity: null });
  t.after(async () => {
    await app.close();
    await store.close();
  });
  for (const method of ['GET', 'POST'] as const) {
    const res = await app.inject({ method, url: '/v1/logs', headers: AS_PORTAL, ...(method === 'POST' ? { payload: { level: 'info', message: 'x' } } : {}) });
    assert.equal(res.statusCode, 404, method);
    assert.match(res.json().message, /POST \/log/);
  }
  assert.equal((await app.inject(COURSE_LINE)).statusCode, 200);
  assert.deepEqual(store.recent().map(({ service, message }) => ({ service, message })), [{ service: 'GradingService', message: 'hello' }]);
});

test('every route is guarded: anonymous requests to any /v1 route get 401; only the course route is outside, and it has its own gate', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'roster-log-app-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = await openLogStore({ dir });
  const app = buildLogApp({ store, identity: { identify: async () => null } });
  t.after(async () => {
    await app.close();
    await store.close();
  });
  const routes: { method: string; url: string }[] = [];
  app.addHook('onRoute', ({ method, url }) => {
    for (const one of [method].flat()) routes.push({ method: one, url });
  });
  await app.ready();

  const outside = routes.filter(({ url }) => !url.startsWith('/v1/'));
  assert.deepEqual([...new Set(outside.map(({ url }) => url))], ['/log'], 'no route outside /v1 but the course one');
  for (const { method, url } of routes.filter(({ url }) => url.startsWith('/v1/'))) {
    const res = await app.inject({ method: method as 'GET', url });
    assert.equal(res.statusCode, 401, `${method} ${url}`);
  }
  const fromBrowser = await app.inject({ ...COURSE_LINE, headers: { ...COURSE_LINE.headers, origin: 'http://evil.example' } });
  assert.equal(fromBrowser.statusCode, 403);
});
