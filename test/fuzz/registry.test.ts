// Fuzzing the registry, both protocols: random and malformed requests to every route never get a
// 5xx, never stop it answering, are refused with `{ code, message }` (plain text on the course's
// /services), and leave the catalog as it was when refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { instanceId } from '../../src/protocol/ids.js';
import { startRegistry, type RunningRegistry } from '../../src/registry/start-registry.js';
import { authorizations, malformedBytes, request, type RouteShape } from './arbitraries.js';
import { assertJsonError, assertNoServerError, assertTextError, describe, fuzzParameters, plain, undecodablePaths, fuzzTimeoutMs, pathPart, ROUTED_METHODS, sendBytes, sendRaw, type RawRequest, type RawResponse } from './harness.js';

const HOUR = 3_600_000;

/** The catalog every run starts from: two /v1 instances in TTL mode (nothing probes them) and a course one. */
const V1_FIXTURES = [
  { service: 'Alpha', url: 'http://127.0.0.1:1/alpha', ttlMs: HOUR, metadata: { version: '1.0.0', tags: ['a'] } },
  { service: 'Beta', url: 'http://127.0.0.1:1/beta', requires: ['Alpha'], ttlMs: HOUR },
];
const COURSE_FIXTURE = { ServiceName: 'Course', ServiceURL: 'http://127.0.0.1:2', RequiredServices: ['Alpha'], ServiceUpdateURL: '', HeartbeatURL: '' };

const IDS = [...V1_FIXTURES.map((f) => instanceId(f.url)), instanceId(COURSE_FIXTURE.ServiceURL)];
const NAMES = ['Alpha', 'Beta', 'Course', 'Nobody'];
const URLS = [...V1_FIXTURES.map((f) => f.url), COURSE_FIXTURE.ServiceURL, 'http://127.0.0.1:9'];

const REGISTRATIONS = [
  { service: 'Gamma', url: 'http://127.0.0.1:3', requires: ['Alpha'], ttlMs: HOUR, metadata: { version: '2', tags: ['x'] } },
  { service: 'Alpha', url: 'http://127.0.0.1:1/alpha', ttlMs: HOUR },
  { service: 'Delta', url: 'http://127.0.0.1:4', updateUrl: 'http://127.0.0.1:4/services', heartbeatUrl: 'http://127.0.0.1:4/heartbeat' },
];
const COURSE_REGISTRATIONS = [
  COURSE_FIXTURE,
  { ServiceName: 'Epsilon', ServiceURL: 'http://127.0.0.1:5', RequiredServices: [], ServiceUpdateURL: 'http://127.0.0.1:5/services', HeartbeatURL: '' },
];

const JSON_TYPES = ['application/json'];
const ROUTES: RouteShape[] = [
  { methods: ['GET'], path: '/v1' },
  { methods: ['GET'], path: '/v1/health' },
  { methods: ['GET'], path: '/login', query: ['token'] },
  { methods: ['GET'], path: '/v1/auth/whoami' },
  { methods: ['GET', 'POST'], path: '/v1/instances', query: ['url'], bodies: REGISTRATIONS, contentTypes: JSON_TYPES },
  { methods: ['GET', 'DELETE'], path: '/v1/instances/{id}', segments: { id: IDS } },
  { methods: ['POST'], path: '/v1/instances/{id}/renew', segments: { id: IDS }, contentTypes: JSON_TYPES },
  { methods: ['GET'], path: '/v1/services' },
  { methods: ['GET'], path: '/v1/services/{name}', segments: { name: NAMES } },
  { methods: ['GET'], path: '/v1/state' },
  { methods: ['GET'], path: '/v1/watch', query: ['since', 'services'], headers: { 'last-event-id': ['0', '3', 'x', '-1'], accept: ['text/event-stream'] } },
  { methods: ['GET'], path: '/metrics' },
  { methods: ['GET'], path: '/' },
  { methods: ['GET'], path: '/dashboard/{asset}', segments: { asset: ['app.js', 'model.js', 'graph.js', 'dom.js', 'overview.js', 'service-page.js', 'style.css', 'favicon.svg', 'index.html'] } },
  { methods: ['POST', 'DELETE'], path: '/services', bodies: COURSE_REGISTRATIONS, texts: URLS, contentTypes: ['application/json', 'text/plain'] },
];

interface Fuzzed {
  running: RunningRegistry;
  admin: string;
}

async function start(t: import('node:test').TestContext): Promise<Fuzzed> {
  // The store `roster registry` uses by default: what a fuzzed request gets through reaches SQLite.
  const dataDir = mkdtempSync(join(tmpdir(), 'roster-fuzz-registry-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const running = await startRegistry({
    host: '127.0.0.1',
    port: 0,
    store: 'sqlite',
    dataDir,
    // Nothing changes by itself while the fuzzer runs: no probe, no expiry within the test.
    health: { intervalMs: HOUR, defaultTtlMs: HOUR, graceMs: HOUR },
    notify: { timeoutMs: 300 },
    initialDeliveryWaitMs: 300,
  });
  t.after(() => running.close());
  assert.ok(running.adminToken, 'the registry is secure by default');
  const fuzzed = { running, admin: running.adminToken };
  await resetCatalog(fuzzed);
  return fuzzed;
}

function asAdmin(admin: string, method: string, path: string, body?: unknown, contentType = 'application/json'): RawRequest {
  const headers: Array<[string, string]> = [['authorization', `Bearer ${admin}`]];
  if (body !== undefined) headers.push(['content-type', contentType]);
  const bytes = body === undefined ? new Uint8Array() : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return { method, path, headers, body: bytes };
}

/** The catalog as GET /v1/state gives it; also the known-good request that shows the registry still answers. */
async function state({ running, admin }: Fuzzed): Promise<unknown> {
  const answer = await sendRaw(running.port, asAdmin(admin, 'GET', '/v1/state'));
  assert.equal(answer.status, 200, `GET /v1/state answered ${answer.status} ${answer.body.slice(0, 200)}`);
  return JSON.parse(answer.body);
}

/** Back to the fixtures after an accepted change: every instance removed, the fixtures registered again. */
async function resetCatalog(fuzzed: Fuzzed): Promise<void> {
  const { running, admin } = fuzzed;
  const { instances } = (await state(fuzzed)) as { instances: Array<{ id: string }> };
  for (const { id } of instances) await expectStatus(running, asAdmin(admin, 'DELETE', `/v1/instances/${id}`), [200]);
  for (const fixture of V1_FIXTURES) await expectStatus(running, asAdmin(admin, 'POST', '/v1/instances', fixture), [201]);
  await expectStatus(running, { ...asAdmin(admin, 'POST', '/services', COURSE_FIXTURE), headers: [['content-type', 'application/json']] }, [200]);
}

async function expectStatus(running: RunningRegistry, sent: RawRequest, statuses: number[]): Promise<RawResponse> {
  const answer = await sendRaw(running.port, sent);
  assert.ok(statuses.includes(answer.status), `setting up: ${describe(sent, answer)}`);
  return answer;
}

/** The shapes refusals take: the course's /services answers text, a browser's dashboard page HTML, the rest JSON. */
function assertRefusalShape(sent: RawRequest, answer: RawResponse): void {
  const path = pathPart(sent.path);
  if (path === '/services' && ROUTED_METHODS.includes(sent.method)) return assertTextError(sent, answer);
  const accept = sent.headers.find(([name]) => name === 'accept')?.[1] ?? '';
  if (answer.status === 401 && sent.method === 'GET' && path === '/' && accept.includes('text/html')) {
    assert.match(answer.headers['content-type'] ?? '', /^text\/html/, describe(sent, answer));
    return;
  }
  assertJsonError(sent, answer);
}

test('the registry, under fuzzing', { timeout: fuzzTimeoutMs(120_000) }, async (t) => {
  // One system for both properties: starting it is most of the cost on a loaded machine.
  const fuzzed = await start(t);

  await t.test('random requests to every route never get a 5xx, are refused as documented and change nothing when refused', async () => {
    const requests = request(ROUTES, authorizations([fuzzed.admin]));
    // Read after each request, and carried to the next as its "before".
    let current = await state(fuzzed);
    await fc.assert(
      fc.asyncProperty(requests, async (sent) => {
        const before = current;
        const answer = await sendRaw(fuzzed.running.port, sent);
        assertNoServerError(sent, answer);
        const after = (current = await state(fuzzed));
        if (answer.status >= 400) {
          assertRefusalShape(sent, answer);
          assert.deepEqual(after, before, `the catalog changed on a refusal: ${describe(sent, answer)}`);
        } else if (JSON.stringify(after) !== JSON.stringify(before)) {
          await resetCatalog(fuzzed);
          current = await state(fuzzed);
        }
      }),
      fuzzParameters(40, [...undecodablePaths('/v1/instances'), ...undecodablePaths('/v1/services')].map((path) => [plain('GET', path, [['authorization', `Bearer ${fuzzed.admin}`]])])),
    );
  });

  await t.test('malformed HTTP never gets a 5xx nor stops it answering', async () => {
    const paths = ['/v1/instances', '/services', '/v1/state', '/v1/watch', '/login', '/'];
    await fc.assert(
      fc.asyncProperty(malformedBytes(paths), async (bytes) => {
        const before = await state(fuzzed);
        const answer = await sendBytes(fuzzed.running.port, bytes, { halfClose: true }).catch(() => null);
        if (answer) assert.ok(answer.status < 500, `a ${answer.status} to ${JSON.stringify(Buffer.from(bytes).toString('latin1').slice(0, 200))}`);
        assert.deepEqual(await state(fuzzed), before);
      }),
      fuzzParameters(8),
    );
  });
});
