// A client against the real registry with authentication on: the registry signs what it sends,
// and forged patches posted straight to the client's update URL change nothing.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage, RequestListener } from 'node:http';
import { RegistryClient, type ChangeEvent } from '../../src/client/index.js';
import { SIGNATURE_HEADER, newSigningKey, signPayload } from '../../src/protocol/index.js';
import { startRegistry } from '../../src/registry/start-registry.js';
import { listenLate, recordingLogger } from '../helpers/fake-registry.js';

const BOUNDED = { timeout: 20_000 };
const FAST_HEALTH = { intervalMs: 50, jitter: 0, timeoutMs: 500, attempts: 1, retryDelayMs: 0 };

interface Captured {
  signature: string | undefined;
  body: string;
}

/** A service whose client answers on a real server; every POST to it is captured as it arrived. */
async function serve(t: TestContext, registryUrl: string, token: string, service: string, requires: string[] = []) {
  const server = await listenLate();
  t.after(() => server.close());
  const logger = recordingLogger();
  const client = new RegistryClient({ service, url: server.url, requires, registryUrl, token, logger });
  t.after(() => client.close());
  const patches: Captured[] = [];
  const heartbeats: number[] = [];
  let heard: () => void = () => {};
  const firstHeartbeat = new Promise<void>((resolve) => (heard = resolve));
  const listener: RequestListener = client.requestListener();
  server.use((req, res) => {
    if (req.method === 'POST') capture(req, patches);
    if (req.url?.startsWith('/heartbeat')) res.on('finish', () => {
      heartbeats.push(res.statusCode);
      heard();
    });
    listener(req, res);
  });
  return { client, logger, patches, heartbeats, firstHeartbeat, updateUrl: `${server.url}/services` };
}

function capture(req: IncomingMessage, into: Captured[]): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => into.push({ signature: req.headers[SIGNATURE_HEADER] as string | undefined, body: Buffer.concat(chunks).toString('utf8') }));
}

async function setup(t: TestContext) {
  const running = await startRegistry({ host: '127.0.0.1', port: 0, health: FAST_HEALTH });
  t.after(() => running.close());
  assert.ok(running.adminToken, 'authentication is on by default');
  const token = running.adminToken;
  const log = await serve(t, running.url, token, 'LogService');
  await log.client.register();
  const portal = await serve(t, running.url, token, 'Portal', ['LogService']);
  await portal.client.register();
  return { running, token, log, portal };
}

async function post(url: string, body: string, signature?: string): Promise<{ status: number; code: string | undefined }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (signature) headers[SIGNATURE_HEADER] = signature;
  const response = await fetch(url, { method: 'POST', headers, body });
  const text = await response.text();
  return { status: response.status, code: text.startsWith('{') ? (JSON.parse(text) as { code?: string }).code : undefined };
}

test('the registry hands out a signing key; its probes and its patches pass the checks', BOUNDED, async (t) => {
  const { running, token, log, portal } = await setup(t);
  assert.equal(portal.client.verifiesSignatures, true);
  assert.deepEqual(portal.client.providers('LogService'), [log.client.options.url]);

  // A genuine patch: a second LogService comes, and the registry tells the portal.
  const changed = once(portal.client, 'change') as Promise<[ChangeEvent]>;
  const second = await serve(t, running.url, token, 'LogService');
  await second.client.register();
  const [change] = await changed;
  assert.deepEqual(change.added, [second.client.options.url]);
  assert.deepEqual(portal.client.providers('LogService'), [log.client.options.url, second.client.options.url]);
  assert.ok(portal.patches.some((p) => p.signature !== undefined), 'patches are signed');

  // Probes are signed too: the heartbeat answers them 200.
  await portal.firstHeartbeat;
  assert.ok(portal.heartbeats.every((status) => status === 200), `heartbeat answers: ${portal.heartbeats.join(', ')}`);
  assert.deepEqual(portal.logger.messages('warn'), []);
});

test('forged patches posted straight to the update URL are refused; the provider view is unchanged', BOUNDED, async (t) => {
  const { log, portal } = await setup(t);
  const before = portal.client.providers('LogService');
  const revision = portal.client.lastRevision;
  const forge = (URL: string, Revision = revision + 1, Name = 'LogService') => JSON.stringify({ Added: [{ Name, URL }], Removed: [{ Name: 'LogService', URL: log.client.options.url }], Revision, PrevRevision: revision });
  const evil = 'http://127.0.0.1:6666';
  const forged: Array<[string, string, string | undefined]> = [
    ['unsigned', forge(evil), undefined],
    ['signed with another key', forge(evil), signPayload(newSigningKey(), forge(evil), Date.now())],
    ['huge Revision', forge(evil, revision + 1_000_000), undefined],
    ['a data: URL', forge('data:text/html,<h1>hi</h1>'), undefined],
    ["another service's URL under a required name", forge(portal.client.options.url), undefined],
  ];
  for (const [what, body, signature] of forged) {
    assert.deepEqual(await post(portal.updateUrl, body, signature), { status: 401, code: 'BAD_SIGNATURE' }, what);
  }
  assert.deepEqual(portal.client.providers('LogService'), before);
  assert.equal(portal.client.lastRevision, revision);
  assert.equal(portal.logger.messages('warn').filter((m) => /refused a patch/.test(m)).length, forged.length);
});

test('a genuine patch played again is refused', BOUNDED, async (t) => {
  const { running, token, portal } = await setup(t);
  const changed = once(portal.client, 'change');
  const second = await serve(t, running.url, token, 'LogService');
  await second.client.register();
  await changed;
  const genuine = portal.patches.find((p) => p.signature !== undefined && p.body.includes(second.client.options.url));
  assert.ok(genuine, 'the registry sent a signed patch');

  // Played again as it was sent: refused, even once the instance it names is gone.
  const removed = once(portal.client, 'change');
  await second.client.deregister();
  await removed;
  assert.deepEqual(await post(portal.updateUrl, genuine.body, genuine.signature), { status: 401, code: 'BAD_SIGNATURE' });
  assert.deepEqual(portal.client.providers('LogService').includes(second.client.options.url), false);
  assert.match(portal.logger.messages('warn').join('\n'), /refused a patch .*\(replayed\)/);
});

test('without a token the registry refuses the client with UNAUTHORIZED', BOUNDED, async (t) => {
  const running = await startRegistry({ host: '127.0.0.1', port: 0 });
  t.after(() => running.close());
  const client = new RegistryClient({ service: 'Portal', url: 'http://127.0.0.1:5000', registryUrl: running.url, logger: recordingLogger() });
  t.after(() => client.close());
  await assert.rejects(client.register(), { code: 'UNAUTHORIZED' });
});
