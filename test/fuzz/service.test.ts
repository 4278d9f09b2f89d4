// Fuzzing a service built with startService: its update path (/services) and heartbeat
// (/heartbeat), with patches signed by the registry's own key for half the requests and unsigned
// or badly signed for the rest, never get a 5xx nor stop it answering; refusals are plain text
// (401 BAD_SIGNATURE: JSON), and a refused patch leaves the view of its providers as it was.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SIGNATURE_HEADER } from '../../src/protocol/index.js';
import type { Registry } from '../../src/registry/registry.js';
import { startRegistry } from '../../src/registry/start-registry.js';
import { startService, type RunningService } from '../../src/service/index.js';
import { malformedBytes, request, type RouteShape } from './arbitraries.js';
import { assertClientPathRefusal, assertNoServerError, CLIENT_PATHS, clientPath, describe, fuzzParameters, fuzzRuns, fuzzTimeoutMs, printable, sendBytes, sendRaw, type RawRequest } from './harness.js';

const HOUR = 3_600_000;
const DEP = { service: 'Dep', url: 'http://127.0.0.1:1/dep', ttlMs: HOUR };
const PATCHES = [
  { Added: [{ Name: 'Dep', URL: 'http://127.0.0.1:9/other' }], Removed: [], Revision: 3, PrevRevision: 1 },
  { Added: [], Removed: [{ Name: 'Dep', URL: DEP.url }], Revision: 4 },
  { Added: null, Removed: [] },
  { Added: [{ Name: 'Elsewhere', URL: 'http://127.0.0.1:9' }], Removed: null, Revision: 20_000 },
];
const ROUTES: RouteShape[] = [
  { methods: ['POST'], path: '/services', bodies: PATCHES, contentTypes: ['application/json'] },
  { methods: ['GET', 'HEAD'], path: '/heartbeat', query: ['deep'] },
  { methods: ['GET', 'POST'], path: '/{path}', segments: { path: ['services', 'heartbeat', 'app'] }, bodies: PATCHES },
];

interface Fuzzed {
  service: RunningService;
  registry: Registry;
}

async function start(t: TestContext): Promise<Fuzzed> {
  const running = await startRegistry({ host: '127.0.0.1', port: 0, store: 'memory', health: { intervalMs: HOUR, defaultTtlMs: HOUR, graceMs: HOUR } });
  t.after(() => running.close());
  const admin = running.adminToken ?? assert.fail('the registry is secure by default');
  const registered = await fetch(`${running.url}/v1/instances`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify(DEP) });
  assert.equal(registered.status, 201);
  const service = await startService({
    name: 'FuzzTarget',
    requires: ['Dep'],
    host: '127.0.0.1',
    port: 0,
    registryUrl: running.url,
    token: admin,
    handleSignals: false,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    handler: (_req, res) => res.end('app'),
  });
  // Registered after the registry's own cleanup: runs first, so the service deregisters from a live registry.
  t.after(() => service.close());
  assert.ok(service.client.verifiesSignatures, 'the registry handed the service a signing key');
  return { service, registry: running.registry as Registry };
}

type Signing = 'registry' | 'as generated';

/** The request as sent: signed now by the registry's key for this service, or as generated. */
function signed({ service, registry }: Fuzzed, sent: RawRequest, signing: Signing): RawRequest {
  if (signing === 'as generated') return sent;
  const path = clientPath(sent.path);
  const { updateUrl, heartbeatUrl } = service.client.options;
  const signature = path === '/heartbeat' && heartbeatUrl ? registry.probeSignatureFor(`${heartbeatUrl}${sent.path.slice('/heartbeat'.length)}`) : updateUrl ? registry.signatureFor(updateUrl, Buffer.from(sent.body).toString('utf8')) : null;
  if (signature === null) return sent;
  return printable({ ...sent, headers: [...sent.headers.filter(([name]) => name !== SIGNATURE_HEADER), [SIGNATURE_HEADER, signature]] });
}

/** The service's view of its providers; also a known-good request to its app, which shows it still answers. */
async function view({ service }: Fuzzed): Promise<unknown> {
  const app: RawRequest = { method: 'GET', path: '/', headers: [], body: new Uint8Array() };
  const answer = await sendRaw(service.port, app);
  assert.equal(answer.status, 200, describe(app, answer));
  return { Dep: service.client.providers('Dep'), revision: service.client.lastRevision };
}

test('a startService service, under fuzzing', { timeout: fuzzTimeoutMs(120_000) }, async (t) => {
  // One system for both properties: starting it is most of the cost on a loaded machine.
  const fuzzed = await start(t);

  await t.test('random patches and probes never get a 5xx, are refused as documented and apply nothing when refused', async () => {
    const requests = fc.tuple(request(ROUTES, fc.constant(null)), fc.constantFrom<Signing>('registry', 'as generated'));
    let acceptedSignedPatches = 0;
    // Read after each request, and carried to the next as its "before".
    let current = await view(fuzzed);
    await fc.assert(
      fc.asyncProperty(requests, async ([generated, signing]) => {
        const sent = signed(fuzzed, generated, signing);
        const before = current;
        const answer = await sendRaw(fuzzed.service.port, sent);
        assertNoServerError(sent, answer);
        const after = (current = await view(fuzzed));
        if (answer.status >= 400) {
          assert.ok(CLIENT_PATHS.includes(clientPath(sent.path) ?? ''), `the app's own path refused: ${describe(sent, answer)}`);
          assertClientPathRefusal(sent, answer);
          assert.deepEqual(after, before, `the view changed on a refusal: ${describe(sent, answer)}`);
        } else if (clientPath(sent.path) === '/services' && sent.method === 'POST') {
          assert.equal(signing, 'registry', `a patch without the registry's signature was accepted: ${describe(sent, answer)}`);
          acceptedSignedPatches += 1;
          // An accepted patch may have started a repair from the registry's state: let it settle.
          await fuzzed.service.client.refresh();
          current = await view(fuzzed);
        }
      }),
      fuzzParameters(fuzzRuns(30)),
    );
    // Else the signed half would test nothing but the signature check (a run of a handful of cases may accept none).
    if (fuzzRuns(30) >= 20) assert.ok(acceptedSignedPatches > 0, 'no patch signed with the registry\'s key was accepted');
  });

  await t.test('malformed HTTP never gets a 5xx nor stops it answering', async () => {
    await fc.assert(
      fc.asyncProperty(malformedBytes(['/services', '/heartbeat', '/']), async (bytes) => {
        const before = await view(fuzzed);
        const answer = await sendBytes(fuzzed.service.port, bytes, { halfClose: true }).catch(() => null);
        if (answer) assert.ok(answer.status < 500, `a ${answer.status} to ${JSON.stringify(Buffer.from(bytes).toString('latin1').slice(0, 200))}`);
        assert.deepEqual(await view(fuzzed), before);
      }),
      fuzzParameters(8),
    );
  });
});
