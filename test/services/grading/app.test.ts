import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { buildGradingApp, SqliteGradeStore } from '../../../src/services/grading/index.js';

interface Setup {
  app: FastifyInstance;
  store: SqliteGradeStore;
  logLines: Record<string, unknown>[];
}

/** A grading app over a real SQLite file in a temp folder; everything is removed after the test. */
async function setup(t: TestContext): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'roster-grading-app-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = new SqliteGradeStore({ file: join(dir, 'grading.db') });
  t.after(() => store.close());
  const logLines: Record<string, unknown>[] = [];
  const sink = new Writable({ write: (chunk, _encoding, done) => done(void logLines.push(JSON.parse(String(chunk)))) });
  const app = buildGradingApp({ store, logger: pino(sink) });
  t.after(() => app.close());
  await app.ready();
  return { app, store, logLines };
}

const NICK = '{"ID":1,"FirstName":"Nick","LastName":"Carter","Grades":[{"Title":"Quiz 1","Type":"Quiz","Score":85},{"Title":"Final Exam","Type":"Exam","Score":94},{"Title":"Quiz 2","Type":"Quiz","Score":82}]}';

function postGrade(id: string | number, payload: string, contentType = 'application/json'): InjectOptions {
  return { method: 'POST', url: `/students/${id}/grades`, payload, headers: { 'content-type': contentType } };
}

function assertJson(contentType: unknown): void {
  assert.match(String(contentType), /^application\/json(;|$)/);
}

test('GET /students/1: the course JSON, byte for byte', async (t) => {
  const { app } = await setup(t);
  const response = await app.inject({ url: '/students/1' });
  assert.equal(response.statusCode, 200);
  assertJson(response.headers['content-type']);
  assert.equal(response.body, NICK);
});

test('GET /students: an array of the five sample students, in ID order', async (t) => {
  const { app } = await setup(t);
  const response = await app.inject({ url: '/students' });
  assert.equal(response.statusCode, 200);
  assertJson(response.headers['content-type']);
  assert.ok(response.body.startsWith(`[${NICK},{"ID":2,"FirstName":"Roberto","LastName":"Baggio","Grades":[{"Title":"Quiz 1","Type":"Quiz","Score":100},`));
  const students = response.json() as { ID: number; LastName: string }[];
  assert.deepEqual(students.map((s) => `${s.ID} ${s.LastName}`), ['1 Carter', '2 Baggio', '3 Stone', '4 McAdams', '5 Clarkson']);
});

test('POST /students/1/grades: 201, JSON content type, the stored grade echoed and appended', async (t) => {
  const { app } = await setup(t);
  const response = await app.inject(postGrade(1, '{"Title":"  Quiz 3 ","Type":"Test","Score":90.5}\n'));
  assert.equal(response.statusCode, 201);
  assertJson(response.headers['content-type']);
  assert.equal(response.body, '{"Title":"Quiz 3","Type":"Test","Score":90.5}');
  const nick = (await app.inject({ url: '/students/1' })).json() as { Grades: unknown[] };
  assert.deepEqual(nick.Grades.at(-1), { Title: 'Quiz 3', Type: 'Test', Score: 90.5 });
  assert.equal(nick.Grades.length, 4);
});

test('a grade as the Go course portal sends it is accepted, whatever its key case or Content-Type', async (t) => {
  const { app } = await setup(t);
  const lower = await app.inject(postGrade(2, '{"title":"Quiz 3","type":"Quiz","score":70,"Extra":true}', 'text/plain'));
  assert.equal(lower.statusCode, 201, lower.body);
  assert.equal(lower.body, '{"Title":"Quiz 3","Type":"Quiz","Score":70}');
});

test('each added grade and student is logged', async (t) => {
  const { app, logLines } = await setup(t);
  await app.inject(postGrade(3, '{"Title":"Quiz 3","Type":"Quiz","Score":88}'));
  await app.inject({ method: 'POST', url: '/students', payload: { FirstName: 'Ada', LastName: 'Lovelace' } });
  const messages = logLines.map((line) => line.msg);
  assert.deepEqual(messages, ['added grade "Quiz 3" (Quiz, 88) for student 3 (Emma Stone)', 'added student 6 (Ada Lovelace)']);
});

const title101 = 'x'.repeat(101);
const invalidGrades: [string, InjectOptions, number, string][] = [
  ['type "Homework"', postGrade(1, '{"Title":"Quiz 3","Type":"Homework","Score":50}'), 400, 'INVALID_REQUEST'],
  ['empty title', postGrade(1, '{"Title":"","Type":"Quiz","Score":50}'), 400, 'INVALID_REQUEST'],
  ['blank title', postGrade(1, '{"Title":"   ","Type":"Quiz","Score":50}'), 400, 'INVALID_REQUEST'],
  ['101-character title', postGrade(1, `{"Title":"${title101}","Type":"Quiz","Score":50}`), 400, 'INVALID_REQUEST'],
  ['score -1', postGrade(1, '{"Title":"Quiz 3","Type":"Quiz","Score":-1}'), 400, 'INVALID_REQUEST'],
  ['score 101', postGrade(1, '{"Title":"Quiz 3","Type":"Quiz","Score":101}'), 400, 'INVALID_REQUEST'],
  ['score "abc"', postGrade(1, '{"Title":"Quiz 3","Type":"Quiz","Score":"abc"}'), 400, 'INVALID_REQUEST'],
  ['score "85" (a string)', postGrade(1, '{"Title":"Quiz 3","Type":"Quiz","Score":"85"}'), 400, 'INVALID_REQUEST'],
  ['score missing', postGrade(1, '{"Title":"Quiz 3","Type":"Quiz"}'), 400, 'INVALID_REQUEST'],
  ['score null', postGrade(1, '{"Title":"Quiz 3","Type":"Quiz","Score":null}'), 400, 'INVALID_REQUEST'],
  ['an array', postGrade(1, '[{"Title":"Quiz 3","Type":"Quiz","Score":50}]'), 400, 'INVALID_REQUEST'],
  ['bad JSON', postGrade(1, '{"Title":"Quiz 3",'), 400, 'INVALID_REQUEST'],
  ['empty body', postGrade(1, ''), 400, 'INVALID_REQUEST'],
  ['a __proto__ key', postGrade(1, '{"__proto__":{"Score":1},"Title":"Quiz 3","Type":"Quiz","Score":50}'), 400, 'INVALID_REQUEST'],
  ['a body over the limit', postGrade(1, `{"Title":"${'x'.repeat(20_000)}","Type":"Quiz","Score":50}`), 413, 'PAYLOAD_TOO_LARGE'],
  ['unknown student', postGrade(99, '{"Title":"Quiz 3","Type":"Quiz","Score":50}'), 404, 'NOT_FOUND'],
  ['unknown student, bad JSON (the student is checked first, as in the course)', postGrade(99, '{'), 404, 'NOT_FOUND'],
  ['non-integer id', postGrade('abc', '{"Title":"Quiz 3","Type":"Quiz","Score":50}'), 404, 'NOT_FOUND'],
  ['fractional id', postGrade('1.5', '{"Title":"Quiz 3","Type":"Quiz","Score":50}'), 404, 'NOT_FOUND'],
  ['negative id', postGrade('-1', '{"Title":"Quiz 3","Type":"Quiz","Score":50}'), 404, 'NOT_FOUND'],
  ['GET on the grades path', { method: 'GET', url: '/students/1/grades' }, 405, 'METHOD_NOT_ALLOWED'],
  ['PUT on a student', { method: 'PUT', url: '/students/1', payload: '{"Title":"Quiz 3","Type":"Quiz","Score":50}', headers: { 'content-type': 'application/json' } }, 405, 'METHOD_NOT_ALLOWED'],
  ['invalid student (empty first name)', { method: 'POST', url: '/students', payload: { FirstName: ' ', LastName: 'Lovelace' } }, 400, 'INVALID_REQUEST'],
  ['invalid student (51-character last name)', { method: 'POST', url: '/students', payload: { FirstName: 'Ada', LastName: 'y'.repeat(51) } }, 400, 'INVALID_REQUEST'],
  ['invalid student (missing last name)', { method: 'POST', url: '/students', payload: { FirstName: 'Ada' } }, 400, 'INVALID_REQUEST'],
];

for (const [name, request, status, code] of invalidGrades) {
  test(`refused, nothing stored: ${name} → ${status} ${code}`, async (t) => {
    const { app } = await setup(t);
    const before = (await app.inject({ url: '/students' })).body;
    const response = await app.inject(request);
    assert.equal(response.statusCode, status, response.body);
    assertJson(response.headers['content-type']);
    const body = response.json() as { code: string; message: string };
    assert.equal(body.code, code);
    assert.ok(body.message.length > 0);
    assert.equal((await app.inject({ url: '/students' })).body, before);
  });
}

test('a validation error names the bad field', async (t) => {
  const { app } = await setup(t);
  const response = await app.inject(postGrade(1, '{"Title":"Quiz 3","Type":"Homework","Score":50}'));
  assert.deepEqual(response.json(), { code: 'INVALID_REQUEST', message: 'invalid grade: "Type" must be one of Quiz, Test, Exam' });
});

for (const id of ['abc', '1.5', '0', '-1', '99', '1e2', '99999999999999999999']) {
  test(`GET /students/${id}: 404`, async (t) => {
    const { app } = await setup(t);
    const response = await app.inject({ url: `/students/${id}` });
    assert.equal(response.statusCode, 404);
    assert.equal((response.json() as { code: string }).code, 'NOT_FOUND');
  });
}

const wrongMethods: [InjectOptions['method'], string, string][] = [
  ['DELETE', '/students/1', 'GET, HEAD'],
  ['POST', '/students/1', 'GET, HEAD'],
  ['DELETE', '/students', 'GET, HEAD, POST'],
  ['PATCH', '/students', 'GET, HEAD, POST'],
  ['GET', '/students/1/grades', 'POST'],
  ['PUT', '/students/1/grades', 'POST'],
];

for (const [method, url, allow] of wrongMethods) {
  test(`${method} ${url}: 405 with Allow: ${allow}`, async (t) => {
    const { app } = await setup(t);
    const response = await app.inject({ method, url });
    assert.equal(response.statusCode, 405);
    assert.equal(response.headers.allow, allow);
    assert.equal((response.json() as { code: string }).code, 'METHOD_NOT_ALLOWED');
  });
}

test('POST /students adds a student: 201, Grades [], then found by ID and listed', async (t) => {
  const { app } = await setup(t);
  const response = await app.inject({ method: 'POST', url: '/students', payload: { FirstName: ' Ada ', LastName: 'Lovelace' } });
  assert.equal(response.statusCode, 201);
  assertJson(response.headers['content-type']);
  const ada = '{"ID":6,"FirstName":"Ada","LastName":"Lovelace","Grades":[]}';
  assert.equal(response.body, ada);
  assert.equal((await app.inject({ url: '/students/6' })).body, ada);
  assert.ok((await app.inject({ url: '/students' })).body.endsWith(`,${ada}]`));
});

test('an unknown path answers 404 as JSON', async (t) => {
  const { app } = await setup(t);
  const response = await app.inject({ url: '/teachers' });
  assert.equal(response.statusCode, 404);
  assert.equal((response.json() as { code: string }).code, 'NOT_FOUND');
});

for (const [what, title] of [
  ['a NUL', 'Quiz\u00003'],
  ['a line break', 'Quiz 3\nFinal Exam Exam 100'],
  ['an escape sequence', 'Quiz \u001b[31m3'],
  ['a line separator', 'Quiz\u20283'],
] as const) {
  test(`a grade title with ${what}: 400 naming the rule, nothing stored`, async (t) => {
    const { app } = await setup(t);
    const response = await app.inject(postGrade(1, JSON.stringify({ Title: title, Type: 'Quiz', Score: 50 })));
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), { code: 'INVALID_REQUEST', message: 'invalid grade: "Title" must not contain control characters (such as a line break, a tab or NUL)' });
    assert.equal((await app.inject({ url: '/students/1' })).body, NICK);
  });
}

test('a student name with a control character: 400, nobody added', async (t) => {
  const { app } = await setup(t);
  for (const payload of [{ FirstName: 'Ada\u0000', LastName: 'Lovelace' }, { FirstName: 'Ada', LastName: 'Love\r\nlace' }]) {
    const response = await app.inject({ method: 'POST', url: '/students', payload });
    assert.equal(response.statusCode, 400);
    assert.match((response.json() as { message: string }).message, /must not contain control characters/);
  }
  assert.equal((await app.inject({ url: '/students' })).json().length, 5);
});
