import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildLogApp, openLogStore, type FileLogStore } from '../../../src/services/log/index.js';

const NOW = Date.parse('2026-03-04T05:06:07.000Z');

interface Harness {
  app: FastifyInstance;
  store: FileLogStore;
  lines(): string[];
}

async function harness(t: TestContext): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'roster-log-app-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = await openLogStore({ dir });
  const app = buildLogApp({ store, now: () => NOW });
  t.after(async () => {
    await app.close();
    await store.close();
  });
  const lines = (): string[] => readFileSync(store.path, 'utf8').split('\n').filter((line) => line !== '');
  return { app, store, lines };
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

  const res = await app.inject({ method: 'POST', url: '/v1/logs', payload: { service: 'Portal', level: 'warn', message: 'slow page' } });

  assert.equal(res.statusCode, 201);
  assert.deepEqual(res.json(), { accepted: 1 });
  assert.deepEqual(lines().map((line) => JSON.parse(line)), [{ time: '2026-03-04T05:06:07.000Z', service: 'Portal', level: 'warn', message: 'slow page' }]);
});

test('POST /v1/logs: a batch keeps its order; times with offsets are stored in UTC', async (t) => {
  const { app, store } = await harness(t);

  const res = await app.inject({
    method: 'POST',
    url: '/v1/logs',
    payload: [
      { service: 'Portal', level: 'info', message: 'first', time: '2026-01-01T02:00:00+02:00' },
      { service: 'Portal', level: 'error', message: 'second', time: '2026-01-01T00:00:01Z' },
    ],
  });

  assert.equal(res.statusCode, 201);
  assert.deepEqual(res.json(), { accepted: 2 });
  assert.deepEqual(store.recent().map(({ time, message }) => ({ time, message })), [
    { time: '2026-01-01T00:00:01.000Z', message: 'second' },
    { time: '2026-01-01T00:00:00.000Z', message: 'first' },
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

    const res = await app.inject({ method: 'POST', url: '/v1/logs', headers: { 'content-type': bad.contentType ?? 'application/json' }, payload: bad.payload });

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
    const res = await app.inject({ method: 'GET', url: `/v1/logs${query}` });
    assert.equal(res.statusCode, 200);
    return res.json().entries.map((e: { message: string }) => e.message);
  };

  assert.deepEqual(await messages(''), ['p-info', 'p-error', 'g-warn', 'p-debug']);
  assert.deepEqual(await messages('?service=Portal'), ['p-info', 'p-error', 'p-debug']);
  assert.deepEqual(await messages('?level=warn'), ['p-error', 'g-warn']);
  assert.deepEqual(await messages('?service=Portal&level=info&limit=1'), ['p-info']);
  const full = await app.inject({ method: 'GET', url: '/v1/logs?limit=1' });
  assert.deepEqual(full.json(), { entries: [{ time: at(4), service: 'Portal', level: 'info', message: 'p-info' }] });
});

test('GET /v1/logs defaults to 100 entries and refuses a limit over 1000 or a bad level', async (t) => {
  const { app, store } = await harness(t);
  await store.append(Array.from({ length: 150 }, (_, i) => ({ time: new Date(NOW).toISOString(), service: 'Portal', level: 'info' as const, message: `${i}` })));

  const page = await app.inject({ method: 'GET', url: '/v1/logs' });
  const tooMany = await app.inject({ method: 'GET', url: '/v1/logs?limit=1001' });
  const badLevel = await app.inject({ method: 'GET', url: '/v1/logs?level=loud' });

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
  const method = await app.inject({ method: 'DELETE', url: '/v1/logs' });
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json().code, 'NOT_FOUND');
  assert.equal(method.statusCode, 405);
  assert.equal(method.json().code, 'METHOD_NOT_ALLOWED');
});
