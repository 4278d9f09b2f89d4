// Writes through a node that does not lead: passed on to the leader with the caller's identity
// (vouched for by the cluster secret), answered with the leader's answer.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { CALLER_HEADER, FORWARDED_HEADER, encodeCaller } from '../../../src/registry/auth/forwarded.js';
import { isWrite } from '../../../src/registry/cluster/forward-writes.js';
import { startEtcdCluster } from '../../helpers/etcd-cluster.js';
import { ADMIN_TOKEN, freshPrefix } from './cluster-helpers.js';
import { startPair } from './cluster-nodes.js';

const etcd = await startEtcdCluster({ after }, 1);
const json = { 'content-type': 'application/json' };
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

async function call(url: string, init: RequestInit): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

test('isWrite: the course and /v1 writes, nothing else', () => {
  const cases: Array<[string, string, boolean]> = [
    ['POST', '/services', true],
    ['DELETE', '/services', true],
    ['POST', '/v1/instances', true],
    ['PUT', '/v1/instances/abc/renew', true],
    ['DELETE', '/v1/instances/abc', true],
    ['GET', '/v1/instances', false],
    ['GET', '/services', false],
    ['HEAD', '/v1/instances/abc', false],
    ['OPTIONS', '/v1/instances', false],
    ['POST', '/v1/logout', false],
    ['POST', '/v1/instancesX', false],
    ['PUT', '/v1/instances/abc/maintenance', true],
    ['PUT', '/v1/services/Log/maintenance', true],
    ['DELETE', '/v1/services/Log/maintenance', true],
    ['GET', '/v1/services/Log', false],
  ];
  for (const [method, path, expected] of cases) assert.equal(isWrite(method, path), expected, `${method} ${path}`);
});

test('a /v1 registration through the follower is made by the leader, owned by the caller, and removable the same way', async (t) => {
  const { leader, follower } = await startPair(t, etcd.endpoints, freshPrefix());
  const registered = await call(`${follower.url}/v1/instances`, {
    method: 'POST',
    headers: { ...json, ...admin },
    body: JSON.stringify({ service: 'Reports', url: 'http://127.0.0.1:9/reports', ttlMs: 60_000 }),
  });
  assert.equal(registered.status, 201, JSON.stringify(registered.body));
  const instance = registered.body.instance as { id: string; owner: string };
  assert.equal(instance.owner, 'admin', 'the owner is the caller, not the forwarding node');
  assert.deepEqual(leader.cluster.instances().map((i) => i.id), [instance.id]);

  const removed = await call(`${follower.url}/v1/instances/${instance.id}`, { method: 'DELETE', headers: admin });
  assert.ok(removed.status >= 200 && removed.status < 300, `DELETE answered ${removed.status}`);
  assert.deepEqual(leader.cluster.instances(), []);
});

test("the follower answers with the leader's error as it came", async (t) => {
  const { follower } = await startPair(t, etcd.endpoints, freshPrefix());
  const answer = await call(`${follower.url}/v1/instances/no-such-id`, { method: 'DELETE', headers: admin });
  assert.equal(answer.status, 404);
  assert.equal(answer.body.code, 'INSTANCE_NOT_FOUND');
});

test('a course registration through the follower is made by the leader', async (t) => {
  const { leader, follower } = await startPair(t, etcd.endpoints, freshPrefix());
  const response = await fetch(`${follower.url}/services`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ ServiceName: 'LogService', ServiceURL: 'http://127.0.0.1:9', RequiredServices: [], ServiceUpdateURL: 'http://127.0.0.1:9/services', HeartbeatURL: 'http://127.0.0.1:9/heartbeat' }),
  });
  await response.arrayBuffer();
  assert.equal(response.status, 200);
  assert.deepEqual(leader.cluster.instances().map((i) => [i.service, i.protocol]), [['LogService', 'course']]);
});

test('the follower checks the caller itself: without a token nothing reaches the leader', async (t) => {
  const { leader, follower } = await startPair(t, etcd.endpoints, freshPrefix());
  const answer = await call(`${follower.url}/v1/instances`, { method: 'POST', headers: json, body: JSON.stringify({ service: 'Reports', url: 'http://127.0.0.1:9/reports', ttlMs: 60_000 }) });
  assert.equal(answer.status, 401);
  assert.deepEqual(leader.cluster.instances(), []);
});

test('a forwarded write is believed only with the cluster secret, and never forwarded twice', async (t) => {
  const { leader, follower } = await startPair(t, etcd.endpoints, freshPrefix());
  const caller = encodeCaller({ name: 'admin', scopes: ['admin'], services: null });
  const body = JSON.stringify({ service: 'Reports', url: 'http://127.0.0.1:9/reports', ttlMs: 60_000 });

  const forged = await call(`${leader.url}/v1/instances`, { method: 'POST', headers: { ...json, [FORWARDED_HEADER]: 'not-the-secret', [CALLER_HEADER]: caller }, body });
  assert.equal(forged.status, 401);

  const secret = follower.cluster.clusterSecret as string;
  const again = await call(`${follower.url}/v1/instances`, { method: 'POST', headers: { ...json, [FORWARDED_HEADER]: secret, [CALLER_HEADER]: caller }, body });
  assert.equal(again.status, 503, 'a write that reaches a follower already forwarded is leadership changing hands');
  assert.equal(again.body.code, 'NO_LEADER');
  assert.deepEqual(leader.cluster.instances(), []);

  const genuine = await call(`${leader.url}/v1/instances`, { method: 'POST', headers: { ...json, [FORWARDED_HEADER]: secret, [CALLER_HEADER]: caller }, body });
  assert.equal(genuine.status, 201);
  assert.equal((genuine.body.instance as { owner: string }).owner, 'admin');
});

test('maintenance through the follower is put by the leader, and the follower shows it from etcd', async (t) => {
  const { leader, follower } = await startPair(t, etcd.endpoints, freshPrefix());
  const registered = await call(`${follower.url}/v1/instances`, { method: 'POST', headers: { ...json, ...admin }, body: JSON.stringify({ service: 'Reports', url: 'http://127.0.0.1:9/reports', ttlMs: 60_000 }) });
  const { id } = registered.body.instance as { id: string };
  const on = await call(`${follower.url}/v1/instances/${id}/maintenance`, { method: 'PUT', headers: { ...json, ...admin }, body: JSON.stringify({ reason: 'deploy' }) });
  assert.equal(on.status, 200, JSON.stringify(on.body));
  assert.equal(leader.cluster.instance(id).maintenance?.reason, 'deploy');
  while (follower.cluster.instances().find((i) => i.id === id)?.maintenance?.reason !== 'deploy') await once(follower.cluster, 'change');

  const service = await call(`${follower.url}/v1/services/Billing/maintenance`, { method: 'PUT', headers: { ...json, ...admin }, body: JSON.stringify({ reason: 'migration' }) });
  assert.equal(service.status, 200, JSON.stringify(service.body));
  assert.deepEqual(leader.cluster.maintenance.services().map((entry) => [entry.service, entry.reason]), [['Billing', 'migration']]);
});
