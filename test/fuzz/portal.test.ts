// Fuzzing the teacher portal (runPortalService, over a real grading and log service and a secure
// registry): random and malformed requests, and form posts with and without a valid CSRF token,
// never get a 5xx nor stop it answering, are refused with an HTML page (or as a service's update
// and heartbeat paths answer), and a refused one changes no student.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import { runGradingService, type RunningGradingService } from '../../src/services/grading/index.js';
import { runLogService } from '../../src/services/log/index.js';
import { runPortalService, type RunningPortalService } from '../../src/services/portal/index.js';
import { CSRF_COOKIE, CSRF_FIELD } from '../../src/services/portal/app.js';
import { secureRegistry } from '../services/secure-registry.js';
import { authorizations, headers, malformedBytes, request, segment, type RouteShape } from './arbitraries.js';
import { assertClientPathRefusal, assertNoServerError, CLIENT_PATHS, clientPath, describe, fuzzParameters, plain, undecodablePaths, fuzzTimeoutMs, printable, sendBytes, sendRaw, type RawRequest, type RawResponse } from './harness.js';

const IDS = ['1', '2', '5', '999'];
const FORM = 'application/x-www-form-urlencoded';

const ROUTES: RouteShape[] = [
  { methods: ['GET'], path: '/' },
  { methods: ['GET', 'POST'], path: '/students', texts: ['FirstName=Ada&LastName=Lovelace'], contentTypes: [FORM] },
  { methods: ['GET'], path: '/students/{id}', segments: { id: IDS } },
  { methods: ['POST'], path: '/students/{id}/grades', segments: { id: IDS }, texts: ['Title=Quiz+3&Type=Quiz&Score=90'], contentTypes: [FORM] },
  { methods: ['GET'], path: '/system' },
  { methods: ['POST', 'GET'], path: '/{path}', segments: { path: ['services', 'heartbeat'] }, bodies: [{ Added: [], Removed: [] }], contentTypes: ['application/json'] },
];

const FIELD_VALUES = ['', ' ', 'Ada', 'Quiz', 'Test', 'Exam', 'Homework', '90', '-1', '101', '1e2', 'NaN', 'Infinity', '0x10', '\u0000', 'a\u0000b', '\n', '\u001b[2J', '<script>alert(1)</script>', 'x'.repeat(120), '%', '\u00e9\ud83d\ude00'];
const FIELD_NAMES = ['FirstName', 'LastName', 'Title', 'Type', 'Score', CSRF_FIELD, 'extra', '__proto__'];

interface Csrf {
  cookie: string;
  token: string;
}

interface Fuzzed {
  portal: RunningPortalService;
  grading: RunningGradingService;
  csrf: Csrf;
}

async function start(t: TestContext): Promise<Fuzzed & { admin: string }> {
  const { registry, tokens } = await secureRegistry(t);
  const dataDir = mkdtempSync(join(tmpdir(), 'roster-fuzz-portal-'));
  const quiet = pino({ level: 'silent' });
  const common = { host: '127.0.0.1', port: 0, registryUrl: registry.url, handleSignals: false, logger: quiet } as const;
  const log = await runLogService({ ...common, dataDir, token: tokens.log });
  const grading = await runGradingService({ ...common, dataDir, token: tokens.grading });
  const portal = await runPortalService({ ...common, token: tokens.portal });
  // Registered after the registry's own cleanup: run first, so the services deregister from a live registry.
  t.after(async () => {
    await portal.close();
    await grading.close();
    await log.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return { portal, grading, csrf: await formSecret(portal), admin: tokens.admin };
}

/** The CSRF cookie and a token for it, as a teacher's browser holds them after opening a form. */
async function formSecret(portal: RunningPortalService): Promise<Csrf> {
  const page = await sendRaw(portal.port, { method: 'GET', path: '/students', headers: [], body: new Uint8Array() });
  const cookie = /^([^;]+)/.exec(page.headers['set-cookie'] ?? '')?.[1];
  const token = new RegExp(`name="${CSRF_FIELD}" value="([^"]+)"`).exec(page.body)?.[1];
  if (!cookie?.startsWith(`${CSRF_COOKIE}=`)) assert.fail('the grade book sets the form cookie');
  if (!token) assert.fail('the grade book carries a form token');
  return { cookie, token };
}

/** A form post to one of the portal's forms: random fields, with the valid CSRF cookie and token or without. */
function formPosts(csrf: Csrf): fc.Arbitrary<RawRequest> {
  const field = fc.tuple(fc.constantFrom(...FIELD_NAMES), fc.oneof(fc.constantFrom(...FIELD_VALUES), fc.string({ maxLength: 20 })));
  return fc
    .record({
      path: fc.oneof(fc.constant('/students'), segment(IDS).map((id) => `/students/${id}/grades`)),
      fields: fc.array(field, { maxLength: 5 }),
      withSecret: fc.boolean(),
      extra: headers({ 'content-type': [FORM] }, [FORM]),
    })
    .map(({ path, fields, withSecret, extra }) => {
      const form = new URLSearchParams(fields);
      if (withSecret) form.append(CSRF_FIELD, csrf.token);
      const sent: Array<[string, string]> = [['content-type', FORM], ...extra.filter(([name]) => name !== 'content-type' && name !== 'cookie')];
      if (withSecret) sent.push(['cookie', csrf.cookie]);
      return printable({ method: 'POST', path, headers: sent, body: Buffer.from(form.toString()) });
    });
}

/** The grade book as the grading service has it; also a known-good page, which shows the portal still answers. */
async function students({ portal, grading }: Fuzzed): Promise<unknown> {
  const page: RawRequest = { method: 'GET', path: '/students', headers: [], body: new Uint8Array() };
  const shown = await sendRaw(portal.port, page);
  assert.equal(shown.status, 200, describe(page, shown));
  const read: RawRequest = { method: 'GET', path: '/students', headers: [], body: new Uint8Array() };
  const answer = await sendRaw(grading.port, read);
  assert.equal(answer.status, 200, describe(read, answer));
  return JSON.parse(answer.body);
}

/** The portal refuses with an HTML page; its update and heartbeat paths answer as every service's do. */
function assertRefusalShape(sent: RawRequest, answer: RawResponse): void {
  if (CLIENT_PATHS.includes(clientPath(sent.path) ?? '')) return assertClientPathRefusal(sent, answer);
  assert.match(answer.headers['content-type'] ?? '', /^text\/html/, `a ${answer.status} that is no page to ${describe(sent, answer)}`);
  if (sent.method !== 'HEAD') assert.match(answer.body, /<h1>|<title>/, `a ${answer.status} page without a heading to ${describe(sent, answer)}`);
}

test('the portal, under fuzzing', { timeout: fuzzTimeoutMs(120_000) }, async (t) => {
  // One system for both properties: starting it is most of the cost on a loaded machine.
  const fuzzed = await start(t);

  await t.test('random requests and form posts never get a 5xx, are refused with a page and change no student when refused', async () => {
    const requests = fc.oneof(request(ROUTES, authorizations([fuzzed.admin])), formPosts(fuzzed.csrf));
    // Read after each request, and carried to the next as its "before".
    let current = await students(fuzzed);
    await fc.assert(
      fc.asyncProperty(requests, async (sent) => {
        const before = current;
        const answer = await sendRaw(fuzzed.portal.port, sent);
        assertNoServerError(sent, answer);
        const after = (current = await students(fuzzed));
        if (answer.status >= 400) {
          assertRefusalShape(sent, answer);
          assert.deepEqual(after, before, `the students changed on a refusal: ${describe(sent, answer)}`);
        }
      }),
      fuzzParameters(25, undecodablePaths('/students').map((path) => [plain('POST', `${path}/grades`, [['content-type', FORM]], 'Title=x')])),
    );
  });

  await t.test('malformed HTTP never gets a 5xx nor stops it answering', async () => {
    await fc.assert(
      fc.asyncProperty(malformedBytes(['/students', '/students/1/grades', '/system', '/services']), async (bytes) => {
        const before = await students(fuzzed);
        const answer = await sendBytes(fuzzed.portal.port, bytes, { halfClose: true }).catch(() => null);
        if (answer) assert.ok(answer.status < 500, `a ${answer.status} to ${JSON.stringify(Buffer.from(bytes).toString('latin1').slice(0, 200))}`);
        assert.deepEqual(await students(fuzzed), before);
      }),
      fuzzParameters(8),
    );
  });
});
