// ClusterRegistry against a real etcd: nodes in this process, each with its own etcd client,
// a fake channel and a fake prober. One leads and writes; every node reads through its mirror.
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { Etcd3 } from 'etcd3';
import type { Patch } from '../../../src/protocol/course.js';
import type { Registration } from '../../../src/registry/catalog.js';
import { ClusterRegistry } from '../../../src/registry/cluster/cluster-registry.js';
import type { Clock } from '../../../src/shared/clock.js';
import { silentLogger, type Logger } from '../../../src/shared/logger.js';
import { startEtcdCluster } from '../../helpers/etcd-cluster.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { changesOf, freshPrefix, untilLeading } from './cluster-helpers.js';

const etcd = await startEtcdCluster({ after }, 1);
const HEALTH = { intervalMs: 60_000, jitter: 0, timeoutMs: 1000, attempts: 1, retryDelayMs: 0 };

interface Node {
  cluster: ClusterRegistry;
  sent: Array<{ target: string; patch: Patch }>;
  /** Emits 'sent' after each patch the node's channel is given. */
  channel: EventEmitter;
}

/** A node on `prefix` that follows etcd; closed (and its client with it) after the test. */
async function follower(t: TestContext, prefix: string, clock?: Clock, logger: Logger = silentLogger): Promise<Node> {
  const client = new Etcd3({ hosts: etcd.endpoints });
  const sent: Node['sent'] = [];
  const channel = new EventEmitter();
  const cluster = new ClusterRegistry({
    client,
    prefix,
    leaseTtlMs: 2000,
    clock,
    logger,
    options: { health: HEALTH },
    channel: {
      send: async (target, patch) => {
        sent.push({ target, patch });
        channel.emit('sent');
      },
      close: async () => undefined,
    },
    probe: async () => undefined,
  });
  t.after(async () => {
    await cluster.close();
    client.close();
  });
  await cluster.follow();
  return { cluster, sent, channel };
}

/** A node that campaigns at `url` and has taken over. */
async function leader(t: TestContext, prefix: string, url: string): Promise<Node> {
  const node = await follower(t, prefix);
  node.cluster.campaign(url);
  await untilLeading(node.cluster);
  return node;
}

function registration(service: string, extra: Partial<Registration> = {}): Registration {
  const url = `http://${service.toLowerCase()}.test`;
  return { service, url, requires: [], updateUrl: null, heartbeatUrl: null, ttlMs: 60_000, metadata: {}, protocol: 'v1', owner: 'admin', ...extra };
}

test('the node that campaigns leads; a follower learns its URL and says so in its role', async (t) => {
  const prefix = freshPrefix();
  const a = await leader(t, prefix, 'http://node-a.test');
  const b = await follower(t, prefix);
  assert.equal(await b.cluster.leaderKnown(5_000), 'http://node-a.test');
  assert.deepEqual(a.cluster.role(), { role: 'leader', leader: 'http://node-a.test' });
  assert.deepEqual(b.cluster.role(), { role: 'follower', leader: 'http://node-a.test' });
  assert.equal(b.cluster.clusterSecret, a.cluster.clusterSecret, 'every node reads the one cluster secret');
  assert.ok(a.cluster.clusterSecret && a.cluster.clusterSecret.length >= 32);
});

test('the leader takes writes; a follower refuses them with NO_LEADER and reads them from etcd', async (t) => {
  const prefix = freshPrefix();
  const a = await leader(t, prefix, 'http://node-a.test');
  const b = await follower(t, prefix);
  const seenByB = changesOf(b.cluster);
  const { instance } = await a.cluster.register(registration('Log'));
  await a.cluster.register(registration('Grading', { requires: ['Log'] }));
  const [first, second] = await seenByB.count(2);
  assert.deepEqual([first?.type, first?.instance.id, second?.instance.service], ['registered', instance.id, 'Grading']);
  assert.equal(b.cluster.revision, a.cluster.revision);
  assert.deepEqual(b.cluster.instance(instance.id).url, 'http://log.test');
  assert.deepEqual(b.cluster.services().map((s) => s.name), a.cluster.services().map((s) => s.name));
  assert.deepEqual(b.cluster.service('Log').instances.map((i) => i.url), ['http://log.test']);
  await assert.rejects(async () => b.cluster.register(registration('Other')), { code: 'NO_LEADER' });
  assert.throws(() => b.cluster.deregister(instance.id), { code: 'NO_LEADER' });
  assert.throws(() => b.cluster.renew(instance.id), { code: 'NO_LEADER' });
  assert.throws(() => b.cluster.service('Missing'), { code: 'SERVICE_NOT_FOUND' });
  assert.throws(() => b.cluster.instance('missing'), { code: 'INSTANCE_NOT_FOUND' });
});

test('a listener that throws is reported through the logger; the other listeners still hear the change', async (t) => {
  const prefix = freshPrefix();
  const a = await leader(t, prefix, 'http://node-a.test');
  const reported: Array<{ event?: string }> = [];
  const b = await follower(t, prefix, undefined, { ...silentLogger, error: (fields) => void reported.push(fields as { event?: string }) });
  b.cluster.on('change', () => {
    throw new Error('listener bug');
  });
  const seenByB = changesOf(b.cluster);
  await a.cluster.register(registration('Log'));
  const [change] = await seenByB.count(1);
  assert.equal(change?.instance.service, 'Log');
  assert.deepEqual(reported.map((fields) => fields.event), ['change']);
});

test('a deregistration on the leader reaches the follower as a deregistered change', async (t) => {
  const prefix = freshPrefix();
  const a = await leader(t, prefix, 'http://node-a.test');
  const b = await follower(t, prefix);
  const seenByB = changesOf(b.cluster);
  const { instance } = await a.cluster.register(registration('Log'));
  a.cluster.deregister(instance.id);
  const changes = await seenByB.count(2);
  assert.deepEqual(changes.map((c) => c.type), ['registered', 'deregistered']);
  assert.deepEqual(b.cluster.instances(), []);
});

test('when the leader steps down, a follower takes over and resumes from etcd', async (t) => {
  const prefix = freshPrefix();
  const a = await leader(t, prefix, 'http://node-a.test');
  const b = await follower(t, prefix);
  await a.cluster.register(registration('Log', { updateUrl: 'http://log.test/services' }));
  const { instance: grading, signingKey } = await a.cluster.register(registration('Grading', { requires: ['Log'], updateUrl: 'http://grading.test/services' }));
  const revisionBefore = a.cluster.revision;
  await untilCount(b, 2);

  b.cluster.campaign('http://node-b.test');
  await a.cluster.close();
  await untilLeading(b.cluster);
  assert.deepEqual(b.cluster.role(), { role: 'leader', leader: 'http://node-b.test' });
  assert.deepEqual(b.cluster.instances().map((i) => i.service).sort(), ['Grading', 'Log']);
  assert.ok(signingKey);
  assert.equal(b.cluster.instance(grading.id).signingKey, signingKey, 'signing keys survive the takeover');

  // Revisions go on from where the old leader stopped, and dependents hear of the change.
  const { instance: second } = await b.cluster.register(registration('Log', { url: 'http://log-2.test', updateUrl: null }));
  assert.equal(second.revision, revisionBefore + 1);
  const toGrading = await untilSent(b, (s) => s.target === 'http://grading.test/services' && s.patch.Revision === second.revision);
  assert.deepEqual(toGrading.map((s) => s.patch.Added.map((e) => e.URL)), [['http://log-2.test']]);
  // Signed with the key the instance was given by the old leader.
  assert.notEqual(b.cluster.signatureFor('http://grading.test/services', '{}'), null);
});

test('leaderKnown with no leader resolves undefined when its time is up on the clock, and leaves no listener', async (t) => {
  const clock = new FakeClock();
  const node = await follower(t, freshPrefix(), clock);
  let answer: string | undefined | 'pending' = 'pending';
  const asking = node.cluster.leaderKnown(5_000).then((url) => (answer = url));
  await clock.tick(4_999);
  assert.equal(answer, 'pending');
  await clock.tick(1);
  await asking;
  assert.equal(answer, undefined);
  assert.equal(node.cluster.listenerCount('leader'), 0);
});

test('close ends a wait for a leader at once; close is idempotent', async (t) => {
  const node = await follower(t, freshPrefix(), new FakeClock());
  const asking = node.cluster.leaderKnown(60_000);
  await Promise.all([node.cluster.close(), node.cluster.close()]);
  assert.equal(await asking, undefined);
  assert.equal(node.cluster.listenerCount('leader'), 0);
  assert.equal(await node.cluster.leaderKnown(1), undefined, 'a closed node knows no leader');
  assert.equal(node.cluster.closing, true);
});

async function untilSent(node: Node, match: (sent: Node['sent'][number]) => boolean): Promise<Node['sent']> {
  while (!node.sent.some(match)) await once(node.channel, 'sent');
  return node.sent.filter(match);
}

async function untilCount(node: Node, count: number): Promise<void> {
  const changes = changesOf(node.cluster);
  if (node.cluster.instances().length >= count) return;
  while (node.cluster.instances().length < count) await changes.count(changes.seen.length + 1);
}
