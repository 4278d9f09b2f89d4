// Cluster mode: three registry nodes over a real three-member etcd cluster on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { RegistryClient } from '../../src/client/index.js';
import { startEtcdCluster } from '../helpers/etcd-cluster.js';
import { NodeProcess, ROSTER_CLI, bearer, freePort, scratchDir } from '../helpers/processes.js';
import { RecordingService } from '../helpers/recording-service.js';

/** Every node takes this admin token (ROSTER_ADMIN_TOKEN); forwarded writes keep its identity. */
const ADMIN_TOKEN = 'cluster-test-admin-token-0123';

interface Health {
  role: string;
  leader: string | null;
}

async function health(url: string): Promise<Health | null> {
  try {
    const response = await fetch(`${url}/v1/health`, { signal: AbortSignal.timeout(1000) });
    return (await response.json()) as Health;
  } catch {
    return null;
  }
}

/** Polls the nodes until one leads and the others know it; resolves with the leader's URL. */
async function waitForLeader(urls: string[], timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const roles = await Promise.all(urls.map(health));
    const leader = urls.find((_, i) => roles[i]?.role === 'leader');
    if (leader && roles.every((role) => role?.leader === leader)) return leader;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const roles = await Promise.all(urls.map(health));
  throw new Error(`the registry nodes did not agree on a leader: ${JSON.stringify(roles)}`);
}

async function courseRegister(nodeUrl: string, registration: object): Promise<number> {
  const response = await request(`${nodeUrl}/services`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(registration) });
  await response.body.dump();
  return response.statusCode;
}

test('three registry nodes over a three-member etcd cluster', { timeout: 120_000 }, async (t) => {
  const etcd = await startEtcdCluster(t, 3);
  const ports = [await freePort(), await freePort(), await freePort()];
  const urls = ports.map((port) => `http://127.0.0.1:${port}`);
  const nodes = ports.map(
    (port) =>
      new NodeProcess(t, [
        ROSTER_CLI, 'registry', '--host', '127.0.0.1', '--port', String(port),
        '--store', 'etcd', '--etcd-endpoints', etcd.endpoints.join(','), '--etcd-prefix', `/roster-test-${process.pid}/`,
        '--health-interval', '300', '--health-timeout', '300', '--health-attempts', '2', '--health-retry-delay', '100',
        '--data-dir', scratchDir(t, 'roster-node-'),
      ], { ROSTER_ADMIN_TOKEN: ADMIN_TOKEN }),
  );
  await Promise.all(nodes.map((node) => node.waitForEvent((e) => typeof e.msg === 'string' && e.msg.startsWith('registry listening'))));
  const firstLeader = await waitForLeader(urls).catch((error: Error) => {
    throw new Error(`${error.message}\n${nodes.map((node, i) => `--- node ${i} (${urls[i]})\n${node.output}`).join('\n')}`);
  });

  const [grading, logA, logB] = await Promise.all([RecordingService.start(), RecordingService.start(), RecordingService.start()]);
  t.after(() => Promise.all([grading.close(), logA.close(), logB.close()]));

  // Registered through two different nodes (writes pass on to the leader)...
  const followers = urls.filter((url) => url !== firstLeader);
  assert.equal(await courseRegister(followers[0]!, grading.registration('GradingService', ['LogService'])), 200);
  assert.equal(await courseRegister(followers[1]!, logA.registration('LogService')), 200);
  // ...seen through every node.
  for (const url of urls) {
    await waitForInstances(url, 2);
  }
  await grading.waitFor((s) => s.patches.some((p) => p.Added.some((e) => e.URL === logA.url)));
  const beforeTakeover = grading.patches.map((p) => p.Revision);
  assert.equal(new Set(beforeTakeover).size, beforeTakeover.length, 'each revision is delivered once');

  // The leading registry node dies: another takes over, probing and notifying.
  const leaderIndex = urls.indexOf(firstLeader);
  nodes[leaderIndex]!.kill('SIGKILL');
  const survivors = urls.filter((url) => url !== firstLeader);
  const secondLeader = await waitForLeader(survivors);
  assert.notEqual(secondLeader, firstLeader);
  logA.heartbeat = 500;
  await grading.waitFor((s) => s.patches.some((p) => p.Removed.some((e) => e.URL === logA.url)));

  // A client given every node, the dead one first, fails over to a live one.
  const client = new RegistryClient({
    service: 'Reporter',
    url: 'http://127.0.0.1:9/reporter',
    requires: ['GradingService'],
    updateUrl: null,
    heartbeatUrl: null,
    registryUrl: [firstLeader, ...survivors],
    token: ADMIN_TOKEN,
  });
  t.after(() => client.close());
  await client.register();
  assert.deepEqual(client.providers('GradingService'), [grading.url]);
  await client.deregister();

  // A write through a follower keeps its caller: the owner is the token, not the forwarding node.
  const follower = survivors.find((url) => url !== secondLeader)!;
  const owned = await request(`${follower}/v1/instances`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer(ADMIN_TOKEN) },
    body: JSON.stringify({ service: 'Owned', url: 'http://127.0.0.1:9/owned', ttlMs: 60_000 }),
  });
  const answer = (await owned.body.json()) as { instance: { owner: string } };
  assert.equal(owned.statusCode, 201);
  assert.equal(answer.instance.owner, 'admin-env');
  const anonymous = await request(`${follower}/v1/instances`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ service: 'Owned', url: 'http://127.0.0.1:9/owned', ttlMs: 60_000 }) });
  assert.equal(anonymous.statusCode, 401, 'the follower checks the caller itself');
  await anonymous.body.dump();
  const forged = await request(`${secondLeader}/v1/instances`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-roster-forwarded': '1', 'x-roster-caller': Buffer.from(JSON.stringify({ name: 'admin', admin: true, scopes: ['admin'], services: null })).toString('base64url') }, body: '{}' });
  assert.equal(forged.statusCode, 401, 'without the cluster secret a forwarded caller is not believed');
  await forged.body.dump();

  // One etcd member dies: the system keeps working.
  await etcd.kill(etcd.members[0]!);
  assert.equal(await courseRegister(survivors[0]!, logB.registration('LogService')), 200);
  await grading.waitFor((s) => s.patches.some((p) => p.Added.some((e) => e.URL === logB.url)));

  // Notified once per revision: a takeover may re-deliver, but never a new revision twice.
  const revisions = grading.patches.map((p) => p.Revision!);
  const delivered = new Set(revisions);
  for (const revision of delivered) {
    const copies = grading.patches.filter((p) => p.Revision === revision);
    assert.ok(copies.every((p) => JSON.stringify(p) === JSON.stringify(copies[0])), `revision ${revision} was sent with different contents`);
  }
  assert.deepEqual([...delivered], [...delivered].sort((a, b) => a - b), 'patches arrive in revision order');

  async function waitForInstances(url: string, count: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const state = (await (await fetch(`${url}/v1/state`, { headers: bearer(ADMIN_TOKEN) })).json()) as { instances: unknown[] };
      if (state.instances.length === count) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.fail(`${url} never showed ${count} instances`);
  }
});
