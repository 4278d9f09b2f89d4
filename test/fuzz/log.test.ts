// Fuzzing the log service (runLogService, registered with a secure registry): random and malformed
// requests to POST /log (the course's) and /v1/logs never get a 5xx nor stop it answering, are
// refused as documented, and a refused one writes no entry.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import { runLogService, type RunningLogService } from '../../src/services/log/index.js';
import { secureRegistry, type PartTokens } from '../services/secure-registry.js';
import { authorizations, malformedBytes, request, type RouteShape } from './arbitraries.js';
import { assertClientPathRefusal, assertJsonError, CLIENT_PATHS, clientPath, assertNoServerError, assertTextError, describe, fuzzParameters, plain, undecodablePaths, fuzzTimeoutMs, pathPart, ROUTED_METHODS, sendBytes, sendRaw, type RawRequest, type RawResponse } from './harness.js';

const ENTRIES = [
  { level: 'info', message: 'graded 5 students' },
  { service: 'Portal', level: 'error', message: 'forged', time: '2026-01-01T00:00:00Z' },
];

const ROUTES: RouteShape[] = [
  { methods: ['POST'], path: '/log', texts: ['[Portal] - hello\n', 'no prefix', '[] - empty name', '[Bad Name!] - x'], contentTypes: ['text/plain'] },
  { methods: ['GET', 'POST'], path: '/v1/logs', query: ['service', 'level', 'limit'], bodies: [...ENTRIES, ENTRIES], contentTypes: ['application/json'] },
  { methods: ['GET', 'POST'], path: '/{anything}', segments: { anything: ['v1', 'logs', 'heartbeat', 'services'] } },
];

interface Fuzzed {
  log: RunningLogService;
  tokens: PartTokens;
}

async function start(t: TestContext): Promise<Fuzzed> {
  const { registry, tokens } = await secureRegistry(t);
  const dataDir = mkdtempSync(join(tmpdir(), 'roster-fuzz-log-'));
  const log = await runLogService({ host: '127.0.0.1', port: 0, dataDir, registryUrl: registry.url, token: tokens.log, handleSignals: false, logger: pino({ level: 'silent' }) });
  // Registered after the registry's own cleanup: runs first, so the service deregisters from a live registry.
  t.after(async () => {
    await log.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return { log, tokens };
}

/** Entries in the file; also a known-good read, which shows the service still answers. */
async function entryCount({ log, tokens }: Fuzzed): Promise<number> {
  const read: RawRequest = { method: 'GET', path: '/v1/logs?limit=1', headers: [['authorization', `Bearer ${tokens.portal}`]], body: new Uint8Array() };
  const answer = await sendRaw(log.port, read);
  assert.equal(answer.status, 200, describe(read, answer));
  return readFileSync(log.file, 'utf8').split('\n').filter(Boolean).length;
}

/** The course's POST /log answers in plain text; everything else in JSON. */
function assertRefusalShape(sent: RawRequest, answer: RawResponse): void {
  if (CLIENT_PATHS.includes(clientPath(sent.path) ?? '')) return assertClientPathRefusal(sent, answer);
  if (pathPart(sent.path) === '/log' && ROUTED_METHODS.includes(sent.method)) return assertTextError(sent, answer);
  assertJsonError(sent, answer);
}

test('the log service, under fuzzing', { timeout: fuzzTimeoutMs(120_000) }, async (t) => {
  // One system for both properties: starting it is most of the cost on a loaded machine.
  const fuzzed = await start(t);

  await t.test('random requests never get a 5xx, are refused as documented and write nothing when refused', async () => {
    const { tokens } = fuzzed;
    const requests = request(ROUTES, authorizations([tokens.grading, tokens.portal, tokens.admin]));
    // Read after each request, and carried to the next as its "before".
    let current = await entryCount(fuzzed);
    await fc.assert(
      fc.asyncProperty(requests, async (sent) => {
        const before = current;
        const answer = await sendRaw(fuzzed.log.port, sent);
        assertNoServerError(sent, answer);
        const after = (current = await entryCount(fuzzed));
        if (answer.status >= 400) {
          assertRefusalShape(sent, answer);
          assert.equal(after, before, `an entry was written on a refusal: ${describe(sent, answer)}`);
        }
      }),
      fuzzParameters(30, undecodablePaths('/v1/logs').map((path) => [plain('GET', path)])),
    );
  });

  await t.test('malformed HTTP never gets a 5xx nor stops it answering', async () => {
    await fc.assert(
      fc.asyncProperty(malformedBytes(['/log', '/v1/logs', '/']), async (bytes) => {
        const before = await entryCount(fuzzed);
        const answer = await sendBytes(fuzzed.log.port, bytes, { halfClose: true }).catch(() => null);
        if (answer) assert.ok(answer.status < 500, `a ${answer.status} to ${JSON.stringify(Buffer.from(bytes).toString('latin1').slice(0, 200))}`);
        assert.equal(await entryCount(fuzzed), before);
      }),
      fuzzParameters(8),
    );
  });
});
