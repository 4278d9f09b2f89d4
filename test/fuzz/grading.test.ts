// Fuzzing the grading service (runGradingService, registered with a secure registry): random and
// malformed requests to its course routes and its update and heartbeat paths never get a 5xx nor
// stop it answering, are refused with `{ code, message }`, and a refused one changes no student.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import { runGradingService, type RunningGradingService } from '../../src/services/grading/index.js';
import { secureRegistry } from '../services/secure-registry.js';
import { authorizations, malformedBytes, request, type RouteShape } from './arbitraries.js';
import { assertClientPathRefusal, assertJsonError, assertNoServerError, CLIENT_PATHS, clientPath, describe, fuzzParameters, plain, undecodablePaths, fuzzTimeoutMs, sendBytes, sendRaw, type RawRequest, type RawResponse } from './harness.js';

const IDS = ['1', '2', '3', '4', '5', '999'];
const STUDENTS = [{ FirstName: 'Ada', LastName: 'Lovelace' }, { firstname: 'Alan', lastname: 'Turing' }];
const GRADES = [{ Title: 'Quiz 3', Type: 'Quiz', Score: 90 }, { title: 'Final', type: 'Exam', score: 0 }];

const ROUTES: RouteShape[] = [
  { methods: ['GET', 'POST'], path: '/students', bodies: STUDENTS, contentTypes: ['application/json'] },
  { methods: ['GET'], path: '/students/{id}', segments: { id: IDS } },
  { methods: ['POST'], path: '/students/{id}/grades', segments: { id: IDS }, bodies: GRADES, contentTypes: ['application/json'] },
  { methods: ['POST', 'GET'], path: '/{path}', segments: { path: ['services', 'heartbeat'] }, bodies: [{ Added: [], Removed: [] }], contentTypes: ['application/json'] },
];

interface Fuzzed {
  grading: RunningGradingService;
}

async function start(t: TestContext): Promise<Fuzzed & { admin: string }> {
  const { registry, tokens } = await secureRegistry(t);
  const dataDir = mkdtempSync(join(tmpdir(), 'roster-fuzz-grading-'));
  const grading = await runGradingService({ host: '127.0.0.1', port: 0, dataDir, registryUrl: registry.url, token: tokens.grading, handleSignals: false, logger: pino({ level: 'silent' }) });
  // Registered after the registry's own cleanup: runs first, so the service deregisters from a live registry.
  t.after(async () => {
    await grading.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return { grading, admin: tokens.admin };
}

/** Every student with every grade; also a known-good read, which shows the service still answers. */
async function students({ grading }: Fuzzed): Promise<unknown> {
  const read: RawRequest = { method: 'GET', path: '/students', headers: [], body: new Uint8Array() };
  const answer = await sendRaw(grading.port, read);
  assert.equal(answer.status, 200, describe(read, answer));
  return JSON.parse(answer.body);
}

function assertRefusalShape(sent: RawRequest, answer: RawResponse): void {
  if (CLIENT_PATHS.includes(clientPath(sent.path) ?? '')) return assertClientPathRefusal(sent, answer);
  assertJsonError(sent, answer);
}

test('the grading service, under fuzzing', { timeout: fuzzTimeoutMs(120_000) }, async (t) => {
  // One system for both properties: starting it is most of the cost on a loaded machine.
  const fuzzed = await start(t);

  await t.test('random requests never get a 5xx, are refused as documented and change no student when refused', async () => {
    const requests = request(ROUTES, authorizations([fuzzed.admin]));
    // Read after each request, and carried to the next as its "before".
    let current = await students(fuzzed);
    await fc.assert(
      fc.asyncProperty(requests, async (sent) => {
        const before = current;
        const answer = await sendRaw(fuzzed.grading.port, sent);
        assertNoServerError(sent, answer);
        const after = (current = await students(fuzzed));
        if (answer.status >= 400) {
          assertRefusalShape(sent, answer);
          assert.deepEqual(after, before, `the students changed on a refusal: ${describe(sent, answer)}`);
        }
      }),
      fuzzParameters(30, undecodablePaths('/students').map((path) => [plain('GET', path)])),
    );
  });

  await t.test('malformed HTTP never gets a 5xx nor stops it answering', async () => {
    await fc.assert(
      fc.asyncProperty(malformedBytes(['/students', '/students/1/grades', '/services', '/heartbeat']), async (bytes) => {
        const before = await students(fuzzed);
        const answer = await sendBytes(fuzzed.grading.port, bytes, { halfClose: true }).catch(() => null);
        if (answer) assert.ok(answer.status < 500, `a ${answer.status} to ${JSON.stringify(Buffer.from(bytes).toString('latin1').slice(0, 200))}`);
        assert.deepEqual(await students(fuzzed), before);
      }),
      fuzzParameters(8),
    );
  });
});
