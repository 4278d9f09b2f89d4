import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { RosterError, type ServiceView } from '../../../src/protocol/index.js';
import type { Grade, NewStudent } from '../../../src/services/grading/domain.js';
import { buildPortalApp, CSRF_COOKIE } from '../../../src/services/portal/app.js';
import { createGradingGateway, type GradeRecord, type GradingGateway, type StudentRecord } from '../../../src/services/portal/grading-gateway.js';
import type { LogEntryRecord, SystemGateway } from '../../../src/services/portal/system-gateway.js';

/** An in-memory grading service; `failure` makes every call throw it. */
class FakeGrading implements GradingGateway {
  students: StudentRecord[] = [
    { ID: 1, FirstName: 'Nick', LastName: 'Carter', Grades: [{ Title: 'Quiz 1', Type: 'Quiz', Score: 85 }, { Title: 'Final Exam', Type: 'Exam', Score: 94 }, { Title: 'Quiz 2', Type: 'Quiz', Score: 82 }] },
    { ID: 2, FirstName: 'Ada', LastName: 'Lovelace', Grades: [] },
  ];
  added: { id: number; grade: Grade }[] = [];
  failure: Error | null = null;

  async listStudents(): Promise<StudentRecord[]> {
    this.#maybeFail();
    return this.students;
  }

  async getStudent(id: number): Promise<StudentRecord> {
    this.#maybeFail();
    return this.students.find((student) => student.ID === id) ?? throwError(new RosterError('NOT_FOUND', `no student with ID "${id}"`));
  }

  async addGrade(id: number, grade: Grade): Promise<GradeRecord> {
    await this.getStudent(id);
    this.added.push({ id, grade });
    return grade;
  }

  async addStudent(student: NewStudent): Promise<StudentRecord> {
    this.#maybeFail();
    const added = { ID: this.students.length + 1, ...student, Grades: [] };
    this.students.push(added);
    return added;
  }

  #maybeFail(): void {
    if (this.failure) throw this.failure;
  }
}

class FakeSystem implements SystemGateway {
  servicesResult: ServiceView[] | Error = [];
  logsResult: LogEntryRecord[] | Error = [];

  async services(): Promise<ServiceView[]> {
    if (this.servicesResult instanceof Error) throw this.servicesResult;
    return this.servicesResult;
  }

  async recentLogs(): Promise<LogEntryRecord[]> {
    if (this.logsResult instanceof Error) throw this.logsResult;
    return this.logsResult;
  }
}

function throwError(error: Error): never {
  throw error;
}

function portal(t: TestContext): { app: FastifyInstance; grading: FakeGrading; system: FakeSystem } {
  const grading = new FakeGrading();
  const system = new FakeSystem();
  const app = buildPortalApp({ grading, system });
  t.after(() => app.close());
  return { app, grading, system };
}

/** What a browser holds after loading a page with a form: the secret cookie and the form's token. */
interface FormSession {
  cookie: string;
  token: string;
}

/** Loads the Grade Book as a browser would and keeps what a form post needs. */
async function formSession(app: FastifyInstance, page = '/students'): Promise<FormSession> {
  const res = await app.inject(page);
  assert.equal(res.statusCode, 200, `${page} renders its form`);
  const cookie = res.cookies.find((c) => c.name === CSRF_COOKIE);
  const token = /name="_csrf" value="([^"]+)"/.exec(res.body)?.[1];
  assert.ok(cookie && token, 'the page sets the form cookie and carries the token');
  return { cookie: `${cookie.name}=${cookie.value}`, token };
}

function formPost(url: string, fields: Record<string, string>, session: FormSession | null) {
  const payload = new URLSearchParams(session ? { ...fields, _csrf: session.token } : fields).toString();
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (session) headers.cookie = session.cookie;
  return { method: 'POST' as const, url, payload, headers };
}

/** A form post as from the portal's own page (cookie and token first fetched with a GET). */
async function postForm(app: FastifyInstance, url: string, fields: Record<string, string>, session?: FormSession) {
  return app.inject(formPost(url, fields, session ?? (await formSession(app))));
}

/** The text of the table row that holds `needle`, tags removed. */
function rowWith(html: string, needle: string): string {
  const row = html.split('<tr>').slice(1).map((part) => part.split('</tr>')[0] ?? '').find((part) => part.includes(needle)) ?? '';
  return row.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
}

function inputValue(html: string, name: string): string | undefined {
  return new RegExp(`<input[^>]*name="${name}"[^>]*value="([^"]*)"`).exec(html)?.[1];
}

test('/ redirects to the grade book', async (t) => {
  const { app } = portal(t);
  const res = await app.inject('/');
  assert.ok([302, 303].includes(res.statusCode));
  assert.equal(res.headers.location, '/students');
});

test('the grade book lists students as "LastName, FirstName" links with their average, "—" without grades', async (t) => {
  const { app } = portal(t);
  const res = await app.inject('/students');
  assert.equal(res.statusCode, 200);
  assert.match(res.headers['content-type'] as string, /^text\/html/);
  assert.match(res.body, /<h1>Grade Book<\/h1>/);
  assert.match(res.body, /<a href="\/students\/1">Carter, Nick<\/a>/);
  assert.match(rowWith(res.body, 'Carter, Nick'), /87\.0%$/);
  assert.match(rowWith(res.body, 'Lovelace, Ada'), /—$/);
  assert.doesNotMatch(res.body, /NaN/);
  assert.match(res.body, /<form[^>]*method="post"[^>]*action="\/students"/);
  assert.ok(inputValue(res.body, 'FirstName') === '' && inputValue(res.body, 'LastName') === '', 'the add-a-student form is blank');
});

test('an average is rounded to one decimal', async (t) => {
  const { app, grading } = portal(t);
  grading.students = [{ ID: 7, FirstName: 'Emma', LastName: 'Stone', Grades: [{ Title: 'a', Type: 'Quiz', Score: 67 }, { Title: 'b', Type: 'Exam', Score: 0 }, { Title: 'c', Type: 'Quiz', Score: 75 }] }];
  const res = await app.inject('/students');
  assert.match(rowWith(res.body, 'Stone, Emma'), /47\.3%$/);
});

test('names, titles and entered values are HTML-escaped', async (t) => {
  const { app, grading } = portal(t);
  const script = '<script>alert(1)</script>';
  grading.students = [{ ID: 1, FirstName: 'Eve', LastName: script, Grades: [{ Title: script, Type: 'Quiz', Score: 1 }] }];
  const escaped = '&lt;script&gt;alert(1)&lt;/script&gt;';

  const book = await app.inject('/students');
  assert.ok(!book.body.includes(script), 'no raw script in the grade book');
  assert.ok(book.body.includes(`${escaped}, Eve`));

  const page = await app.inject('/students/1');
  assert.ok(!page.body.includes(script), 'no raw script on the student page');
  assert.ok(page.body.includes(`<td>${escaped}</td>`));

  // An entered value goes back into an attribute: a quote must not end it.
  const invalid = await postForm(app, '/students/1/grades', { Title: '"><script>alert(2)</script>', Type: 'Quiz', Score: '150' });
  assert.equal(invalid.statusCode, 400);
  assert.ok(!invalid.body.includes('<script>alert(2)'));
  assert.equal(inputValue(invalid.body, 'Title'), '&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;');
});

test("a student's page shows the grades and an Add a Grade form with exactly the domain's types", async (t) => {
  const { app } = portal(t);
  const res = await app.inject('/students/1');
  assert.equal(res.statusCode, 200);
  assert.match(res.body, /<h1>Carter, Nick<\/h1>/);
  assert.equal(rowWith(res.body, 'Final Exam'), 'Final Exam Exam 94');
  assert.match(res.body, /Add a Grade/);
  assert.match(res.body, /<form[^>]*method="post"[^>]*action="\/students\/1\/grades"/);
  const options = [...res.body.matchAll(/<option value="([^"]*)"/g)].map((match) => match[1]);
  assert.deepEqual(options, ['Quiz', 'Test', 'Exam']);
  assert.equal(inputValue(res.body, 'Title'), '');
  assert.equal(inputValue(res.body, 'Score'), '');
});

test('a valid grade is added through the grading service and answered 303 to the student page', async (t) => {
  const { app, grading } = portal(t);
  const res = await postForm(app, '/students/1/grades', { Title: ' Quiz 3 ', Type: 'Test', Score: '91.5' });
  assert.equal(res.statusCode, 303);
  assert.equal(res.headers.location, '/students/1');
  assert.deepEqual(grading.added, [{ id: 1, grade: { Title: 'Quiz 3', Type: 'Test', Score: 91.5 } }]);
});

for (const [what, fields, field, message] of [
  ['a score above 100', { Title: 'Quiz 3', Type: 'Quiz', Score: '150' }, 'Score', 'Score must be at most 100'],
  ['a score that is not a number', { Title: 'Quiz 3', Type: 'Quiz', Score: 'abc' }, 'Score', 'Score must be a number'],
  ['an empty title', { Title: '  ', Type: 'Quiz', Score: '80' }, 'Title', 'Title must not be empty'],
  ['a type the domain does not have', { Title: 'Quiz 3', Type: 'Homework', Score: '80' }, 'Type', 'Type must be one of Quiz, Test, Exam'],
] as const) {
  test(`${what}: 400, the error on the page, the entered values kept, nothing sent`, async (t) => {
    const { app, grading } = portal(t);
    const res = await postForm(app, '/students/1/grades', fields);
    assert.equal(res.statusCode, 400);
    assert.match(res.body, /The grade was not added/);
    assert.match(res.body, new RegExp(`id="${field}-error">${message}<`));
    assert.match(res.body, new RegExp(`name="${field}"[^>]*aria-invalid="true"`));
    if (field !== 'Title') assert.equal(inputValue(res.body, 'Title'), fields.Title);
    if (field !== 'Score') assert.equal(inputValue(res.body, 'Score'), fields.Score);
    assert.deepEqual(grading.added, []);
  });
}

test('the chosen type stays selected when the form comes back with an error', async (t) => {
  const { app } = portal(t);
  const res = await postForm(app, '/students/1/grades', { Title: 'Midterm', Type: 'Test', Score: '-1' });
  assert.equal(res.statusCode, 400);
  assert.match(res.body, /<option value="Test" selected>/);
  assert.equal(inputValue(res.body, 'Score'), '-1');
});

test("the grading service's own 400 is shown the same way", async (t) => {
  const { app, grading } = portal(t);
  grading.addGrade = async () => throwError(new RosterError('INVALID_REQUEST', 'invalid grade: Title is too long'));
  const res = await postForm(app, '/students/1/grades', { Title: 'Quiz 3', Type: 'Quiz', Score: '70' });
  assert.equal(res.statusCode, 400);
  assert.match(res.body, /The grading service refused it: invalid grade: Title is too long/);
  assert.equal(inputValue(res.body, 'Title'), 'Quiz 3');
  assert.equal(inputValue(res.body, 'Score'), '70');
});

test('adding a student: 303 to the new student page; invalid names answer 400 with the values kept', async (t) => {
  const { app, grading } = portal(t);
  const added = await postForm(app, '/students', { FirstName: 'Grace', LastName: 'Hopper' });
  assert.equal(added.statusCode, 303);
  assert.equal(added.headers.location, '/students/3');
  assert.equal(grading.students.at(-1)?.LastName, 'Hopper');

  const invalid = await postForm(app, '/students', { FirstName: 'Alan', LastName: '' });
  assert.equal(invalid.statusCode, 400);
  assert.match(invalid.body, /The student was not added/);
  assert.match(invalid.body, /id="LastName-error">Last name must not be empty</);
  assert.equal(inputValue(invalid.body, 'FirstName'), 'Alan');
  assert.match(invalid.body, /Carter, Nick/, 'the grade book is still shown');
  assert.equal(grading.students.length, 3);
});

for (const [what, spec] of [
  ['the grade book', { method: 'GET', url: '/students' }],
  ["a student's page", { method: 'GET', url: '/students/1' }],
  ['adding a grade', { method: 'POST', url: '/students/1/grades', fields: { Title: 'Q', Type: 'Quiz', Score: '5' } }],
] as const) {
  test(`no grading instance: ${what} answers a 503 page that says so, without a stack trace`, async (t) => {
    const { app, grading } = portal(t);
    const request = 'fields' in spec ? formPost(spec.url, spec.fields, await formSession(app)) : spec;
    const error = new RosterError('NO_PROVIDER', 'no instance of service "GradingService" is available');
    grading.failure = error;
    const res = await app.inject(request);
    assert.equal(res.statusCode, 503);
    assert.match(res.headers['content-type'] as string, /^text\/html/);
    assert.match(res.body, /The grading service is unavailable/);
    assert.match(res.body, /will work again as soon as the grading service is back/);
    assert.ok(!res.body.includes(error.stack!.split('\n')[1]!.trim()), 'no stack trace');
    assert.doesNotMatch(res.body, /at .*\.ts:\d+/);

    grading.failure = null;
    const again = await app.inject(request);
    assert.ok(again.statusCode < 400, `works again once the service is back (got ${again.statusCode})`);
  });
}

test('an unknown student, a non-numeric id and an unknown path answer a 404 page', async (t) => {
  const { app } = portal(t);
  for (const url of ['/students/99', '/students/abc', '/nowhere']) {
    const res = await app.inject(url);
    assert.equal(res.statusCode, 404, url);
    assert.match(res.headers['content-type'] as string, /^text\/html/);
    assert.match(res.body, /Not found/);
  }
  const grade = await postForm(app, '/students/99/grades', { Title: 'Q', Type: 'Quiz', Score: '1' });
  assert.equal(grade.statusCode, 404);
});

test('an unexpected failure answers a 500 page that shows neither the message nor the stack', async (t) => {
  const { app, grading } = portal(t);
  grading.failure = new TypeError('secret internals');
  const res = await app.inject('/students');
  assert.equal(res.statusCode, 500);
  assert.match(res.body, /Something went wrong/);
  assert.doesNotMatch(res.body, /secret internals|TypeError/);
});

test('the System page lists services, instances, health and the latest log entries', async (t) => {
  const { app, system } = portal(t);
  system.servicesResult = [serviceView('GradingService', ['http://127.0.0.1:6000', 'http://127.0.0.1:6001'])];
  system.logsResult = [{ time: '2024-05-01T12:34:56.789Z', service: 'Portal', level: 'warn', message: '<b>added</b> grade' }];
  const res = await app.inject('/system');
  assert.equal(res.statusCode, 200);
  assert.match(res.body, /<h1>System<\/h1>/);
  assert.match(res.body, /GradingService/);
  assert.equal(rowWith(res.body, 'http://127.0.0.1:6000'), 'http://127.0.0.1:6000 passing 2024-05-01 12:00:00');
  assert.equal(rowWith(res.body, 'http://127.0.0.1:6001'), 'http://127.0.0.1:6001 critical — connection refused');
  assert.equal(rowWith(res.body, '12:34:56'), '2024-05-01 12:34:56 Portal warn &lt;b&gt;added&lt;/b&gt; grade');
  assert.ok(res.body.includes('&lt;b&gt;added&lt;/b&gt; grade'));
});

test('the System page says when the registry or the log service cannot be reached', async (t) => {
  const { app, system } = portal(t);
  system.servicesResult = new RosterError('NO_PROVIDER', 'the registry cannot be reached (ECONNREFUSED)');
  system.logsResult = new RosterError('NO_PROVIDER', 'no instance of service "LogService" is available');
  const res = await app.inject('/system');
  assert.equal(res.statusCode, 200);
  assert.match(res.body, /The registry could not be read: the registry cannot be reached \(ECONNREFUSED\)/);
  assert.match(res.body, /The log service could not be read: no instance of service &quot;LogService&quot; is available/);
});

function serviceView(name: string, urls: [string, string]): ServiceView {
  const instance = (url: string, passing: boolean) => ({
    id: url,
    service: name,
    url,
    requires: ['LogService'],
    updateUrl: null,
    heartbeatUrl: null,
    ttlMs: null,
    metadata: {},
    health: passing ? ('passing' as const) : ('critical' as const),
    protocol: 'v1' as const,
    owner: null,
    registeredAt: '2024-05-01T11:00:00.000Z',
    revision: 1,
    lastCheckAt: passing ? '2024-05-01T12:00:00.000Z' : null,
    lastCheckMs: 1,
    lastError: passing ? null : 'connection refused',
    criticalSince: passing ? null : '2024-05-01T12:00:00.000Z',
  });
  return { name, instances: [instance(urls[0], true), instance(urls[1], false)], passing: 1, critical: 1, requires: ['LogService'], requiredBy: ['Portal'] };
}

// ---- through the real gateway: several grading instances, some of them failing

const NICK = { ID: 1, FirstName: 'Nick', LastName: 'Carter', Grades: [{ Title: 'Quiz 1', Type: 'Quiz', Score: 85 }] };

/** A stand-in grading instance on a real socket; `calls` counts the requests it got. */
async function instance(t: TestContext, handle: RequestListener): Promise<{ url: string; calls: () => number }> {
  let calls = 0;
  const server = createServer((req, res) => {
    calls++;
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    // A hung test instance keeps its socket open: cut it, or close() would wait for it.
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls: () => calls };
}

const healthy: RequestListener = (req, res) => {
  const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  req.resume();
  req.on('end', () => {
    if (req.url === '/students') return json(200, [NICK]);
    if (req.url === '/students/1') return json(200, NICK);
    if (req.url === '/students/1/grades') return json(201, { Title: 'Quiz 2', Type: 'Quiz', Score: 90 });
    return json(404, { code: 'NOT_FOUND', message: 'no student with ID "9"' });
  });
};

/** The URL of a port nothing listens on. */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

/** The portal app over a real gateway whose client lists `urls`, the first one picked first. */
function portalOver(t: TestContext, urls: string[], timeoutMs = 2_000): FastifyInstance {
  const client = { provider: () => urls[0] ?? throwError(new RosterError('NO_PROVIDER', 'none')), providers: () => urls };
  const grading = createGradingGateway({ client, timeoutMs });
  const app = buildPortalApp({ grading, system: new FakeSystem() });
  t.after(() => grading.close());
  t.after(() => app.close());
  return app;
}

for (const [what, failing] of [
  ['refuses connections', null],
  ['answers 500', ((_req, res) => res.writeHead(500).end('boom')) as RequestListener],
  ['does not answer in time', (() => {}) as RequestListener],
] as const) {
  test(`one of two grading instances ${what}: the other one answers`, async (t) => {
    const bad = failing ? (await instance(t, failing)).url : await deadUrl();
    const good = await instance(t, healthy);
    const app = portalOver(t, [bad, good.url], 300);
    const res = await app.inject('/students');
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /Carter, Nick/);
    assert.equal(good.calls(), 1);
  });
}

test('a grade POST goes to another instance only when the first cannot have stored it', async (t) => {
  const good = await instance(t, healthy);
  const grade = { Title: 'Quiz 2', Type: 'Quiz', Score: '90' };
  const first = portalOver(t, [await deadUrl(), good.url]);
  const session = await formSession(first);
  const before = good.calls();
  const refused = await postForm(first, '/students/1/grades', grade, session);
  assert.equal(refused.statusCode, 303, 'a refused connection: sent to the other instance');
  assert.equal(good.calls() - before, 1);

  // Only the form post counts: the page that carried the form was read before.
  const broken = await instance(t, (req, res) => (req.method === 'GET' ? healthy(req, res) : req.resume().on('end', () => res.writeHead(500).end())));
  const second = portalOver(t, [broken.url, good.url]);
  const secondSession = await formSession(second);
  const sent = good.calls();
  const failed = await postForm(second, '/students/1/grades', grade, secondSession);
  assert.equal(failed.statusCode, 502, 'a 500 after the grade was sent: not sent again');
  assert.match(failed.body, /may or may not have been saved/);
  assert.equal(good.calls(), sent);
});

test('every grading instance failing answers the 503 page', async (t) => {
  const broken = await instance(t, (_req, res) => res.writeHead(503).end());
  const res = await portalOver(t, [await deadUrl(), broken.url]).inject('/students');
  assert.equal(res.statusCode, 503);
  assert.match(res.body, /The grading service is unavailable/);
});

test("the grading service's 400 and 404 reach the page through the gateway", async (t) => {
  const refusing = await instance(t, (req, res) => {
    if (req.method === 'GET') return healthy(req, res);
    req.resume().on('end', () => {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'INVALID_REQUEST', message: 'invalid grade: Title is too long' }));
    });
  });
  const app = portalOver(t, [refusing.url]);
  const refused = await postForm(app, '/students/1/grades', { Title: 'Quiz 2', Type: 'Quiz', Score: '90' });
  assert.equal(refused.statusCode, 400);
  assert.match(refused.body, /invalid grade: Title is too long/);
  assert.equal(inputValue(refused.body, 'Title'), 'Quiz 2');
  assert.equal((await app.inject('/students/9')).statusCode, 404);
});

// ---- forged form posts

test('the form cookie is HttpOnly, SameSite=Strict and signed; each form carries a token field', async (t) => {
  const { app } = portal(t);
  const res = await app.inject('/students/1');
  const setCookie = String(res.headers['set-cookie']);
  assert.match(setCookie, new RegExp(`^${CSRF_COOKIE}=[^;]+\\.[^;]+;`), 'signed: value.signature');
  assert.match(setCookie, /; HttpOnly/);
  assert.match(setCookie, /; SameSite=Strict/);
  assert.match(setCookie, /; Path=\//);
  assert.match(res.body, /<form[^>]*action="\/students\/1\/grades"[^>]*>\s*<input type="hidden" name="_csrf" value="[^"]+">/);
  const book = await app.inject({ url: '/students', headers: { cookie: `${CSRF_COOKIE}=${res.cookies[0]!.value}` } });
  assert.equal(book.headers['set-cookie'], undefined, 'a browser that has the cookie keeps it');
  assert.match(book.body, /<form[^>]*action="\/students"[^>]*>\s*<input type="hidden" name="_csrf" value="[^"]+">/);
});

test('the pages may not be framed by another site', async (t) => {
  const { app } = portal(t);
  const res = await app.inject('/students');
  assert.equal(res.headers['x-frame-options'], 'DENY');
  assert.equal(res.headers['content-security-policy'], "frame-ancestors 'none'");
});

for (const [what, forge] of [
  ['no cookie and no token', (_session: FormSession) => null],
  ['the cookie but no token', (session: FormSession) => ({ ...session, token: '' })],
  ['the cookie and a wrong token', (session: FormSession) => ({ ...session, token: `${session.token.slice(0, -2)}xx` })],
  ['a token but no cookie', (session: FormSession) => ({ ...session, cookie: 'other=1' })],
  ['a token with a cookie value made up elsewhere', (session: FormSession) => ({ ...session, cookie: `${CSRF_COOKIE}=planted` })],
] as const) {
  test(`a form post with ${what}: 403 page saying to reload the form, nothing added`, async (t) => {
    const { app, grading } = portal(t);
    const session = await formSession(app);
    for (const [url, fields] of [['/students/1/grades', { Title: 'Forged', Type: 'Quiz', Score: '100' }], ['/students', { FirstName: 'Eve', LastName: 'Forger' }]] as const) {
      const res = await app.inject(formPost(url, fields, forge(session)));
      assert.equal(res.statusCode, 403, url);
      assert.match(res.headers['content-type'] as string, /^text\/html/);
      assert.match(res.body, /The form could not be accepted/);
      assert.match(res.body, /Reload the form and send it again/);
      assert.match(res.body, new RegExp(`<a href="${url.replace(/\/grades$/, '')}">`));
    }
    assert.deepEqual(grading.added, []);
    assert.equal(grading.students.length, 2);
  });
}

test('a post the browser marks as coming from another site is refused even with a valid token', async (t) => {
  const { app, grading } = portal(t);
  const session = await formSession(app);
  for (const site of ['cross-site', 'same-site']) {
    const request = formPost('/students/1/grades', { Title: 'Forged', Type: 'Quiz', Score: '100' }, session);
    const res = await app.inject({ ...request, headers: { ...request.headers, 'sec-fetch-site': site } });
    assert.equal(res.statusCode, 403, site);
    assert.match(res.body, /Reload the form/);
  }
  const own = formPost('/students/1/grades', { Title: 'Quiz 3', Type: 'Quiz', Score: '90' }, session);
  const res = await app.inject({ ...own, headers: { ...own.headers, 'sec-fetch-site': 'same-origin' } });
  assert.equal(res.statusCode, 303);
  assert.equal(grading.added.length, 1);
});

test('one page load serves several posts: the token stays valid for the browser that has the cookie', async (t) => {
  const { app, grading } = portal(t);
  const session = await formSession(app);
  for (const title of ['Quiz 3', 'Quiz 4']) assert.equal((await postForm(app, '/students/1/grades', { Title: title, Type: 'Quiz', Score: '80' }, session)).statusCode, 303);
  assert.equal(grading.added.length, 2);
});

// ---- control characters

for (const [what, url, fields, field, label] of [
  ['a NUL in a grade title', '/students/1/grades', { Title: 'Quiz\u00003', Type: 'Quiz', Score: '80' }, 'Title', 'Title'],
  ['a line break in a grade title', '/students/1/grades', { Title: 'Quiz 3\nFinal Exam', Type: 'Quiz', Score: '80' }, 'Title', 'Title'],
  ['a line break in a last name', '/students', { FirstName: 'Alan', LastName: 'Turing\r\nX' }, 'LastName', 'Last name'],
] as const) {
  test(`${what}: 400 with the error on the form and the values kept; nothing sent`, async (t) => {
    const { app, grading } = portal(t);
    const res = await postForm(app, url, fields);
    assert.equal(res.statusCode, 400);
    assert.match(res.body, new RegExp(`id="${field}-error">${label} must not contain control characters`));
    assert.equal(inputValue(res.body, url === '/students' ? 'FirstName' : 'Score'), url === '/students' ? 'Alan' : '80');
    assert.deepEqual(grading.added, []);
    assert.equal(grading.students.length, 2);
  });
}

/** Every route as [method, path], read from fastify's printRoutes() tree (the portal adds its routes directly, before any onRoute hook could). */
function routesOf(app: FastifyInstance): [string, string][] {
  const stack: string[] = [];
  const routes: [string, string][] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([\s│├└─]*)(\S.*?) \(([^)]+)\)$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    stack.length = depth;
    stack.push(match[2]!);
    const path = stack.join('').replace(/\/+/g, '/');
    for (const method of match[3]!.split(', ')) routes.push([method, path]);
  }
  return routes;
}

test('every route that takes a body is guarded: a post without the form token gets 403', async (t) => {
  const grading = new FakeGrading();
  const app = buildPortalApp({ grading, system: new FakeSystem() });
  t.after(() => app.close());
  await app.ready();

  const unsafe = routesOf(app).filter(([method]) => !['GET', 'HEAD'].includes(method));
  assert.deepEqual(unsafe, [['POST', '/students'], ['POST', '/students/:id/grades']]);
  for (const [method, url] of unsafe) {
    const res = await app.inject({ method: method as 'POST', url: url.replace(':id', '1'), payload: 'Title=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(res.statusCode, 403, `${method} ${url}`);
  }
  assert.deepEqual(grading.added, []);
});
