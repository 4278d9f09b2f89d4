// Roster's three demo services against a stand-in of the Go course's registry (see
// test/helpers/course-registry.ts): the course's registration JSON, its patches (no revisions,
// `null` lists), its text/plain DELETE and its heartbeat probes. In-process, on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { CourseRegistry, type SentPatch } from '../helpers/course-registry.js';
import { untilFileShows } from '../helpers/until-file-shows.js';
import { runLogService, type RunningLogService } from '../../src/services/log/index.js';
import { runGradingService, type RunningGradingService } from '../../src/services/grading/index.js';
import { runPortalService, type RunningPortalService } from '../../src/services/portal/index.js';

interface LogEntry {
  service: string;
  message: string;
}

interface StudentJson {
  ID: number;
  FirstName: string;
  LastName: string;
  Grades: { Title: string; Type: string; Score: number }[];
}

async function get(url: string): Promise<{ status: number; text: string; type: string | null }> {
  const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(5_000) });
  return { status: response.status, text: await response.text(), type: response.headers.get('content-type') };
}

/**
 * Posts a portal form as a browser would: the page first, for the form's CSRF token and the
 * cookie it is tied to, then the post with both.
 */
async function postForm(portal: string, page: string, action: string, fields: Record<string, string>): Promise<Response> {
  const form = await fetch(`${portal}${page}`, { signal: AbortSignal.timeout(5_000) });
  const html = await form.text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
  assert.ok(csrf, `no CSRF token in the form of ${page}`);
  const cookie = form.headers.getSetCookie().map((header) => header.split(';')[0]).join('; ');
  return fetch(`${portal}${action}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    body: new URLSearchParams({ ...fields, _csrf: csrf }).toString(),
    redirect: 'manual',
    signal: AbortSignal.timeout(5_000),
  });
}

function courseJson(name: string, url: string, requires: string[]) {
  return { ServiceName: name, ServiceURL: url, RequiredServices: requires, ServiceUpdateURL: `${url}/services`, HeartbeatURL: `${url}/heartbeat` };
}

const addedTo = (receiver: string, name: string, url: string) => (p: SentPatch) =>
  p.receiver === receiver && p.status === 200 && (p.patch.Added ?? []).some((e) => e.Name === name && e.URL === url);
const removedFrom = (receiver: string, name: string, url: string) => (p: SentPatch) =>
  p.receiver === receiver && p.status === 200 && (p.patch.Removed ?? []).some((e) => e.Name === name && e.URL === url);

test("Roster's log, grading and portal services on the course's registry", { timeout: 60_000 }, async (t) => {
  const registry = await CourseRegistry.start();
  const logDir = mkdtempSync(join(tmpdir(), 'roster-course-log-'));
  const gradingDir = mkdtempSync(join(tmpdir(), 'roster-course-grading-'));
  const quiet = pino({ level: 'silent' });
  const common = { protocol: 'course' as const, registryUrl: registry.url, port: 0, host: '127.0.0.1', handleSignals: false };
  let log: RunningLogService | undefined;
  let grading: RunningGradingService | undefined;
  let portal: RunningPortalService | undefined;
  let extra: Server | undefined;
  t.after(async () => {
    // Dependents first, so that each deregisters while the registry and the log service are up.
    await portal?.close();
    await grading?.close();
    await log?.close();
    if (extra) await new Promise<void>((resolve) => extra!.close(() => resolve()));
    await registry.close();
    rmSync(logDir, { recursive: true, force: true });
    rmSync(gradingDir, { recursive: true, force: true });
  });

  log = await runLogService({ ...common, dataDir: logDir, logger: quiet });
  grading = await runGradingService({ ...common, dataDir: gradingDir, stdout: false });
  portal = await runPortalService({ ...common, stdout: false });
  const firstGradingUrl = grading.url;

  await t.test('each service registered with exactly the course JSON', () => {
    const posts = registry.requests('POST');
    assert.deepEqual(
      posts.map((r) => ({ status: r.status, type: r.contentType, body: JSON.parse(r.body) as unknown })),
      [
        { status: 200, type: 'application/json', body: courseJson('LogService', log!.url, []) },
        { status: 200, type: 'application/json', body: courseJson('GradingService', grading!.url, ['LogService']) },
        { status: 200, type: 'application/json', body: courseJson('Portal', portal!.url, ['LogService', 'GradingService']) },
      ],
    );
    // Key order and the trailing newline of Go's json.Encoder.
    assert.equal(posts[0]!.body, `${JSON.stringify(courseJson('LogService', log!.url, []))}\n`);
    for (const url of [log!.url, grading!.url, portal!.url]) assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  await t.test('the callbacks before each 200 carried the course patches, nulls included', async () => {
    const initial = registry.patches.filter((p) => p.reason === 'register');
    assert.deepEqual(
      initial.map((p) => ({ receiver: p.receiver, body: p.body, status: p.status })),
      [
        { receiver: log!.url, body: '{"Added":null,"Removed":null}', status: 200 },
        { receiver: grading!.url, body: JSON.stringify({ Added: [{ Name: 'LogService', URL: log!.url }], Removed: null }), status: 200 },
        {
          receiver: portal!.url,
          body: JSON.stringify({ Added: [{ Name: 'LogService', URL: log!.url }, { Name: 'GradingService', URL: grading!.url }], Removed: null }),
          status: 200,
        },
      ],
    );
    await registry.settled();
    const notices = registry.patches.filter((p) => p.reason === 'added').map((p) => ({ receiver: p.receiver, body: p.body, status: p.status }));
    // Grading hears of nobody new; the portal registered after both, so it gets no notice either.
    assert.deepEqual(notices, []);
    assert.ok(registry.patches.every((p) => !p.body.includes('Revision')), 'the course sends no revisions');
  });

  await t.test('each service answers its heartbeat with 200', async () => {
    const probes = await registry.checkHeartbeats();
    assert.deepEqual(
      probes.map((p) => [p.service, p.heartbeatUrl, p.status]),
      [
        ['LogService', `${log!.url}/heartbeat`, 200],
        ['GradingService', `${grading!.url}/heartbeat`, 200],
        ['Portal', `${portal!.url}/heartbeat`, 200],
      ],
    );
    assert.equal(registry.registrations.length, 3, 'nobody was removed');
  });

  await t.test("the portal's Grade Book lists the grading service's students", async () => {
    const page = await get(`${portal!.url}/students`);
    assert.equal(page.status, 200, page.text);
    assert.match(page.type ?? '', /^text\/html/);
    assert.match(page.text, /Grade Book/);
    assert.match(page.text, /Carter, Nick/);
    assert.deepEqual(portal!.client.providers('GradingService'), [grading!.url]);
    assert.equal(portal!.client.lastRevision, 0, 'course patches carry no revision');
  });

  await t.test('a grade added through the portal form is stored by the grading service', async () => {
    const response = await postForm(portal!.url, '/students/1', '/students/1/grades', { Title: 'Course Quiz', Type: 'Quiz', Score: '91' });
    await response.arrayBuffer();
    assert.equal(response.status, 303);
    assert.equal(response.headers.get('location'), '/students/1');
    const stored = await get(`${grading!.url}/students/1`);
    assert.equal(stored.status, 200, stored.text);
    const student = JSON.parse(stored.text) as StudentJson;
    assert.equal(`${student.LastName}, ${student.FirstName}`, 'Carter, Nick');
    assert.deepEqual(student.Grades.at(-1), { Title: 'Course Quiz', Type: 'Quiz', Score: 91 });
  });

  await t.test("log entries reach the log service through the course's POST /log", async () => {
    // A course registry cannot vouch for tokens, so the log service keeps no /v1/logs: its file shows what arrived.
    const logFile = join(logDir, 'log', 'roster.log');
    const entries = await untilFileShows(`an entry from GradingService or Portal in ${logFile}`, logFile, (lines) => {
      const entries = lines.map((line) => JSON.parse(line) as LogEntry);
      return entries.some((e) => e.service === 'GradingService' || e.service === 'Portal') ? entries : undefined;
    });
    assert.ok(entries.length > 0);
  });

  await t.test('closing grading deregisters it with a text/plain DELETE; the portal answers 503', async () => {
    await grading!.close();
    const deletes = registry.requests('DELETE');
    assert.deepEqual(
      deletes.map((r) => ({ body: r.body, type: r.contentType, status: r.status })),
      [{ body: firstGradingUrl, type: 'text/plain', status: 200 }],
    );
    assert.ok(!registry.registrations.some((r) => r.ServiceURL === firstGradingUrl));
    const removed = await registry.waitForPatch(removedFrom(portal!.url, 'GradingService', firstGradingUrl), 'removing GradingService from the portal');
    assert.equal(removed.body, JSON.stringify({ Added: [], Removed: [{ Name: 'GradingService', URL: firstGradingUrl }] }));
    assert.deepEqual(portal!.client.providers('GradingService'), []);
    const page = await get(`${portal!.url}/students`);
    assert.equal(page.status, 503, page.text);
  });

  await t.test('grading started again: the portal finds it through an Added patch and works again', async () => {
    grading = await runGradingService({ ...common, dataDir: gradingDir, stdout: false });
    await registry.waitForPatch(addedTo(portal!.url, 'GradingService', grading.url), 'adding the new GradingService to the portal');
    assert.deepEqual(portal!.client.providers('GradingService'), [grading.url]);
    const page = await get(`${portal!.url}/students`);
    assert.equal(page.status, 200, page.text);
    assert.match(page.text, /Carter, Nick/);
    // Same database: the grade added before the restart is still there.
    const student = await get(`${portal!.url}/students/1`);
    assert.equal(student.status, 200, student.text);
    assert.match(student.text, /Course Quiz/);
  });

  await t.test('an instance failing its heartbeat is removed at once and the portal drops it', async () => {
    // A second "GradingService" that takes patches but fails its heartbeat.
    extra = createServer((req, res) => {
      req.resume();
      res.writeHead(req.url === '/heartbeat' ? 500 : 200).end();
    });
    await new Promise<void>((resolve) => extra!.listen(0, '127.0.0.1', resolve));
    const sickUrl = `http://127.0.0.1:${(extra.address() as AddressInfo).port}`;
    const answer = await fetch(`${registry.url}/services`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(courseJson('GradingService', sickUrl, [])),
    });
    await answer.arrayBuffer();
    assert.equal(answer.status, 200);
    await registry.waitForPatch(addedTo(portal!.url, 'GradingService', sickUrl), 'adding the sick GradingService to the portal');
    assert.deepEqual(portal!.client.providers('GradingService').sort(), [grading!.url, sickUrl].sort());

    const probes = await registry.checkHeartbeats();
    assert.deepEqual(probes.filter((p) => !p.alive).map((p) => [p.url, p.status]), [[sickUrl, 500]]);
    await registry.waitForPatch(removedFrom(portal!.url, 'GradingService', sickUrl), 'removing the sick GradingService from the portal');
    assert.deepEqual(portal!.client.providers('GradingService'), [grading!.url]);
    for (let i = 0; i < 2; i++) {
      const page = await get(`${portal!.url}/students`);
      assert.equal(page.status, 200, page.text);
    }
  });

  await t.test("the stand-in's own answers: 405, 500 for an unknown URL, 400 for bad JSON or a failed callback", async () => {
    const status = async (method: string, body?: string, type = 'text/plain'): Promise<number> => {
      const response = await fetch(`${registry.url}/services`, { method, ...(body === undefined ? {} : { body, headers: { 'content-type': type } }) });
      await response.arrayBuffer();
      return response.status;
    };
    assert.equal(await status('GET'), 405);
    assert.equal(await status('PUT', '{}'), 405);
    assert.equal(await status('DELETE', 'http://127.0.0.1:1'), 500);
    assert.equal(await status('POST', '{not json', 'application/json'), 400);
    // Nothing listens on port 1: the callback fails, so the registration does.
    assert.equal(await status('POST', JSON.stringify(courseJson('Nobody', 'http://127.0.0.1:1', [])), 'application/json'), 400);
    assert.ok(!registry.registrations.some((r) => r.ServiceName === 'Nobody'));
  });
});
