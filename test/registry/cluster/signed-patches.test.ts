// Trust in cluster mode: a v1 client registered through a follower gets its signing key from
// the leader (the write is forwarded), and the leader signs every patch it sends it.
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { RegistryClient, type ChangeEvent } from '../../../src/client/index.js';
import { SIGNATURE_HEADER, newSigningKey, signPayload } from '../../../src/protocol/index.js';
import { startEtcdCluster } from '../../helpers/etcd-cluster.js';
import { listenLate, recordingLogger } from '../../helpers/fake-registry.js';
import { ADMIN_TOKEN, freshPrefix } from './cluster-helpers.js';
import { startPair } from './cluster-nodes.js';

const etcd = await startEtcdCluster({ after }, 1);

interface Captured {
  signature: string | undefined;
  body: string;
}

/** A service whose client answers on a real server, registered through `registryUrl`; every POST it receives is captured. */
async function service(t: TestContext, registryUrl: string, name: string, requires: string[] = []) {
  const server = await listenLate();
  const logger = recordingLogger();
  const client = new RegistryClient({ service: name, url: server.url, requires, registryUrl, token: ADMIN_TOKEN, logger });
  t.after(async () => {
    await client.close();
    await server.close();
  });
  const patches: Captured[] = [];
  const listener = client.requestListener();
  server.use((req, res) => {
    if (req.method === 'POST') capture(req, patches);
    listener(req, res);
  });
  await client.register();
  return { client, logger, patches, updateUrl: `${server.url}/services` };
}

function capture(req: IncomingMessage, into: Captured[]): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => into.push({ signature: req.headers[SIGNATURE_HEADER] as string | undefined, body: Buffer.concat(chunks).toString('utf8') }));
}

test('a v1 client registered through a follower accepts the signed patches of the leader and refuses a forged one', { timeout: 30_000 }, async (t) => {
  const { follower } = await startPair(t, etcd.endpoints, freshPrefix());
  const log = await service(t, follower.url, 'LogService');
  const portal = await service(t, follower.url, 'Portal', ['LogService']);
  assert.equal(portal.client.verifiesSignatures, true, 'the forwarded registration handed the client its key');
  assert.deepEqual(portal.client.providers('LogService'), [log.client.options.url]);

  // A second LogService, registered through the follower too: the leader tells the portal, signed.
  const changed = once(portal.client, 'change') as Promise<[ChangeEvent]>;
  const second = await service(t, follower.url, 'LogService');
  const [change] = await changed;
  assert.deepEqual(change.added, [second.client.options.url]);
  const genuine = portal.patches.find((p) => p.body.includes(second.client.options.url));
  assert.ok(genuine?.signature, 'the patch was signed');

  // A forged patch posted straight to the portal: refused, nothing applied.
  const revision = portal.client.lastRevision;
  const before = portal.client.providers('LogService');
  const forged = JSON.stringify({ Added: [{ Name: 'LogService', URL: 'http://127.0.0.1:6666' }], Removed: [], Revision: revision + 1, PrevRevision: revision });
  for (const signature of [undefined, signPayload(newSigningKey(), forged, Date.now())]) {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...(signature ? { [SIGNATURE_HEADER]: signature } : {}) };
    const response = await fetch(portal.updateUrl, { method: 'POST', headers, body: forged });
    const answer = (await response.json()) as { code?: string };
    assert.deepEqual([response.status, answer.code], [401, 'BAD_SIGNATURE'], signature ? 'signed with another key' : 'unsigned');
  }
  assert.deepEqual(portal.client.providers('LogService'), before);
  assert.equal(portal.client.lastRevision, revision);
  assert.deepEqual(portal.logger.messages('warn').filter((m) => !/refused a patch/.test(m)), []);
});
