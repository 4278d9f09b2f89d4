// Cluster mode: a node that does not lead passes writes on to the leader, whose core admits
// them. The leader refuses what is over a limit, whichever node the write came through; the
// follower passes its answer on, Retry-After included; the leader's /metrics counts it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { startEtcdCluster } from '../../helpers/etcd-cluster.js';
import { ADMIN_TOKEN, freshPrefix } from '../cluster/cluster-helpers.js';
import { startPair } from '../cluster/cluster-nodes.js';
import { call, v1Body } from './limits-registry.js';

const etcd = await startEtcdCluster({ after }, 1);

async function rejections(url: string, limit: string): Promise<number> {
  const { text } = await call(url, 'GET', '/metrics', { token: ADMIN_TOKEN });
  const line = text.split('\n').find((entry) => entry.startsWith(`roster_limit_rejections_total{limit="${limit}"}`));
  return Number(line?.split(' ').at(-1));
}

test('maxInstancesPerService and writesPerWindow hold for writes passed on by a follower', async (t) => {
  const { leader, follower } = await startPair(t, etcd.endpoints, freshPrefix(), { limits: { maxInstancesPerService: 1, writesPerWindow: 3 } });
  const register = (port: number) => call(follower.url, 'POST', '/v1/instances', { token: ADMIN_TOKEN, body: v1Body('Reports', port) });
  assert.equal((await register(9001)).status, 201);

  const full = await register(9002);
  assert.equal(full.status, 429);
  assert.equal(full.json.code, 'LIMIT_REACHED');
  assert.match(full.json.message ?? '', /service "Reports" has 1 instances: the limit "maxInstancesPerService" \(1\)/);
  assert.deepEqual(leader.cluster.instances().map((record) => record.url), ['http://127.0.0.1:9001']);
  assert.equal(await rejections(leader.url, 'maxInstancesPerService'), 1);

  // Two writes so far (one refused counts: it was a write); the third passes, the fourth not.
  assert.equal((await register(9001)).status, 200);
  const limited = await register(9001);
  assert.equal(limited.status, 429);
  assert.equal(limited.json.code, 'RATE_LIMITED');
  assert.match(limited.headers['retry-after'] as string, /^\d+$/);
  assert.equal(await rejections(leader.url, 'writesPerWindow'), 1);
});

/** POST /services from a loopback address of our choosing: the course API's callers are counted by it. */
function courseRegister(url: string, from: string, port: number): Promise<{ status: number; body: string }> {
  const body = JSON.stringify({ ServiceName: 'LogService', ServiceURL: `http://127.0.0.1:${port}`, RequiredServices: [], ServiceUpdateURL: '', HeartbeatURL: '' });
  return new Promise((resolve, reject) => {
    const sent = httpRequest(`${url}/services`, { method: 'POST', localAddress: from, headers: { 'content-type': 'application/json' } }, (answer) => {
      let text = '';
      answer.setEncoding('utf8').on('data', (chunk: string) => (text += chunk)).on('end', () => resolve({ status: answer.statusCode ?? 0, body: text }));
    });
    sent.on('error', reject).end(body);
  });
}

test('course writes passed on by a follower count against their caller\'s address at the leader, not the follower\'s', async (t) => {
  const { follower } = await startPair(t, etcd.endpoints, freshPrefix(), { limits: { writesPerWindow: 2 } });
  assert.equal((await courseRegister(follower.url, '127.0.0.2', 9101)).status, 200);
  assert.equal((await courseRegister(follower.url, '127.0.0.2', 9102)).status, 200);
  const limited = await courseRegister(follower.url, '127.0.0.2', 9103);
  assert.equal(limited.status, 429);
  assert.match(limited.body, /source address 127\.0\.0\.2/);
  // Another caller behind the same follower has a window of its own.
  assert.equal((await courseRegister(follower.url, '127.0.0.3', 9104)).status, 200);
});
