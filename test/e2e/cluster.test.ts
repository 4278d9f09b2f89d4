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

async function health(url: string): Promise<Health> {
  return (await (await fetch(`${url}/v1/health`)).json()) as Health;
}

const LEADER_IS = /^registry leader is (.+)$/;

/** The leader a node last announced (it logs "registry leader is <url>" each time it learns of a new one). */
function announcedLeader(node: NodeProcess): string | undefined {
  const announced = node.events.map((e) => LEADER_IS.exec(String(e.msg))?.[1]).filter((url) => url !== undefined);
  return announced.at(-1);
}

/** Resolves once `check` holds, re-checking after every line any of `nodes` prints. */
async function untilPrinted<T>(nodes: NodeProcess[], check: () => T | undefined): Promise<T> {
  for (;;) {
    const found = check();
    if (found !== undefined) return found;
    await Promise.race(nodes.map((node) => node.waitForLine(/./, node.lines.length)));
  }
}

/** Whether the node at `url` announced that it took over as the leader. */
function tookOver(nodes: NodeProcess[], url: string): boolean {
  return nodes.some((node) => node.events.some((e) => e.msg === `this node (${url}) is the registry leader`));
}

/**
 * Resolves with the leader's URL once every node announced the same leader and that node
 * announced it took over; then checks that their /v1/health says the same.
 */
async function waitForLeader(nodes: NodeProcess[], urls: string[]): Promise<string> {
  const leader = await untilPrinted(nodes, () => {
    const [first, ...others] = nodes.map(announcedLeader);
    const agreed = first !== undefined && urls.includes(first) && others.every((url) => url === first);
    return agreed && tookOver(nodes, first) ? first : undefined;
  });
  const roles = await Promise.all(urls.map(health));
  assert.deepEqual(roles.map((role) => [role.role, role.leader]), urls.map((url) => [url === leader ? 'leader' : 'follower', leader]));
  return leader;
}

/** A node's /v1/watch stream, folded into the instances it holds now. */
class WatchedCatalog {
  readonly instances = new Map<string, unknown>();
  readonly #controller = new AbortController();
  #waiters: Array<() => void> = [];

  static async open(url: string, token: string): Promise<WatchedCatalog> {
    const watched = new WatchedCatalog();
    const response = await fetch(`${url}/v1/watch`, { headers: bearer(token), signal: watched.#controller.signal });
    assert.equal(response.status, 200);
    void watched.#read(response.body!).catch(() => undefined);
    return watched;
  }

  /** Resolves once the node holds `count` instances. */
  async waitForCount(count: number): Promise<void> {
    while (this.instances.size !== count) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  close(): void {
    this.#controller.abort();
  }

  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    let buffered = '';
    for await (const chunk of body.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      const blocks = buffered.split('\n\n');
      buffered = blocks.pop() ?? '';
      for (const block of blocks) this.#apply(block);
    }
  }

  #apply(block: string): void {
    const field = (name: string) => block.split('\n').find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2);
    const data = field('data');
    if (data === undefined) return;
    const event = JSON.parse(data) as { instances?: Array<{ id: string }>; type?: string; instance?: { id: string } };
    if (field('event') === 'snapshot') for (const instance of event.instances ?? []) this.instances.set(instance.id, instance);
    if (field('event') === 'change' && event.instance) {
      if (event.type === 'deregistered') this.instances.delete(event.instance.id);
      else this.instances.set(event.instance.id, event.instance);
    }
    for (const wake of this.#waiters.splice(0)) wake();
  }
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
  const firstLeader = await waitForLeader(nodes, urls).catch((error: Error) => {
    throw new Error(`${error.message}\n${nodes.map((node, i) => `--- node ${i} (${urls[i]})\n${node.output}`).join('\n')}`);
  });

  const [grading, logA, logB] = await Promise.all([RecordingService.start(), RecordingService.start(), RecordingService.start()]);
  t.after(() => Promise.all([grading.close(), logA.close(), logB.close()]));

  const watched = await Promise.all(urls.map((url) => WatchedCatalog.open(url, ADMIN_TOKEN)));
  t.after(() => watched.forEach((catalog) => catalog.close()));
  // Registered through two different nodes (writes pass on to the leader)...
  const followers = urls.filter((url) => url !== firstLeader);
  assert.equal(await courseRegister(followers[0]!, grading.registration('GradingService', ['LogService'])), 200);
  assert.equal(await courseRegister(followers[1]!, logA.registration('LogService')), 200);
  // ...seen through every node.
  await Promise.all(watched.map((catalog) => catalog.waitForCount(2)));
  await grading.waitFor((s) => s.patches.some((p) => p.Added.some((e) => e.URL === logA.url)));
  const beforeTakeover = grading.patches.map((p) => p.Revision);
  assert.equal(new Set(beforeTakeover).size, beforeTakeover.length, 'each revision is delivered once');

  // The leading registry node dies: another takes over, probing and notifying.
  const leaderIndex = urls.indexOf(firstLeader);
  nodes[leaderIndex]!.kill('SIGKILL');
  const survivors = urls.filter((url) => url !== firstLeader);
  const secondLeader = await waitForLeader(nodes.filter((_, i) => i !== leaderIndex), survivors);
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
});
