// A log message keeps tabs and line feeds (a stack trace; the file is JSON lines, so it stays one
// line there) and refuses every other control character with a 400 naming the message, through
// both the course's POST /log and /v1/logs; nothing is written then.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLogApp, openLogStore } from '../../../src/services/log/index.js';

const TOKEN = 'portal-secret-0123456789';
const AS_PORTAL = { authorization: `Bearer ${TOKEN}` };

async function harness(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'roster-log-control-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = await openLogStore({ dir });
  const identity = { identify: async (token: string | null) => (token === TOKEN ? { name: 'portal', scopes: ['register' as const], services: ['Portal'] } : null) };
  const app = buildLogApp({ store, identity });
  t.after(async () => {
    await app.close();
    await store.close();
  });
  const lines = (): string[] => readFileSync(store.path, 'utf8').split('\n').filter((line) => line !== '');
  return { app, lines };
}

const REFUSED: Array<[string, string]> = [
  ['a NUL', 'before\u0000after'],
  ['terminal escapes', 'title\u001b]0;pwned\u0007\u001b[2J'],
  ['a carriage return', 'progress 10%\rprogress 99%'],
  ['a C1 control', 'csi\u009b31m'],
  ['DEL', 'del\u007f'],
];

for (const [what, message] of REFUSED) {
  test(`a log message with ${what}: 400 naming the message, nothing written`, async (t) => {
    const { app, lines } = await harness(t);
    const v1 = await app.inject({ method: 'POST', url: '/v1/logs', headers: AS_PORTAL, payload: { service: 'Portal', level: 'info', message } });
    assert.equal(v1.statusCode, 400, v1.body);
    assert.match((v1.json() as { message: string }).message, /"message" must not contain control characters other than tab and line feed/);

    const batch = await app.inject({ method: 'POST', url: '/v1/logs', headers: AS_PORTAL, payload: [{ level: 'info', message: 'fine' }, { level: 'warn', message }] });
    assert.equal(batch.statusCode, 400, batch.body);
    assert.match((batch.json() as { message: string }).message, /"1\.message" must not contain control characters/);

    const course = await app.inject({ method: 'POST', url: '/log', payload: `[Portal] - ${message}\n` });
    assert.equal(course.statusCode, 400, course.body);
    assert.match(course.body, /the message must not contain control characters/);
    assert.deepEqual(lines(), [], 'nothing written');
  });
}

test('a log message keeps its tabs and line feeds, one JSON line in the file', async (t) => {
  const { app, lines } = await harness(t);
  const message = 'Error: boom\n\tat f (a.js:1:1)\n\tat g (b.js:2:2)';
  const v1 = await app.inject({ method: 'POST', url: '/v1/logs', headers: AS_PORTAL, payload: { level: 'error', message } });
  assert.equal(v1.statusCode, 201, v1.body);
  const course = await app.inject({ method: 'POST', url: '/log', payload: `[Portal] - ${message}\r\n` });
  assert.equal(course.statusCode, 200, course.body);
  assert.equal(lines().length, 2);
  assert.deepEqual(lines().map((line) => (JSON.parse(line) as { message: string }).message), [message, message]);
});
