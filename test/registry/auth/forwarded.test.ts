// Cluster mode: a node passes a write on to the leader with the caller it checked, vouched for by
// the cluster secret. Without that secret, the forwarded caller is not believed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { CALLER_HEADER, FORWARDED_HEADER, encodeCaller } from '../../../src/registry/auth/forwarded.js';
import { startAuthServer, ttlRegistration, JSON_HEADERS } from './auth-server.js';

const CLUSTER_SECRET = 'cluster-secret-0123456789';
const alice = encodeCaller({ name: 'alice', scopes: ['register'], services: null });

async function forwardedPost(url: string, headers: Record<string, string>, body: string) {
  const answer = await request(`${url}/v1/instances`, { method: 'POST', headers: { ...JSON_HEADERS, ...headers }, body });
  return { status: answer.statusCode, text: await answer.body.text() };
}

test('with the cluster secret, the forwarded caller is the owner', async (t) => {
  const { url, registry } = await startAuthServer(t, { clusterSecret: () => CLUSTER_SECRET });
  const answer = await forwardedPost(url, { [FORWARDED_HEADER]: CLUSTER_SECRET, [CALLER_HEADER]: alice }, ttlRegistration('Alpha', 'http://127.0.0.1:9/a'));
  assert.equal(answer.status, 201, answer.text);
  assert.equal(registry.instances()[0]?.owner, 'alice');
});

test('a wrong or missing cluster secret: 401, nothing registered', async (t) => {
  const { url, registry } = await startAuthServer(t, { clusterSecret: () => CLUSTER_SECRET });
  for (const secret of ['guess', '1', `${CLUSTER_SECRET}x`]) {
    const answer = await forwardedPost(url, { [FORWARDED_HEADER]: secret, [CALLER_HEADER]: alice }, ttlRegistration('Alpha', 'http://127.0.0.1:9/a'));
    assert.equal(answer.status, 401, secret);
  }
  assert.equal(registry.instances().length, 0);
});

test('a single registry (no cluster secret) believes no forwarded caller', async (t) => {
  const { url, registry } = await startAuthServer(t);
  const answer = await forwardedPost(url, { [FORWARDED_HEADER]: '1', [CALLER_HEADER]: encodeCaller({ name: 'x', scopes: ['admin'], services: null }) }, ttlRegistration('Alpha', 'http://127.0.0.1:9/a'));
  assert.equal(answer.status, 401);
  assert.equal(registry.instances().length, 0);
});

test('the forwarded caller\'s scopes and services still apply on the leader', async (t) => {
  const { url } = await startAuthServer(t, { clusterSecret: () => CLUSTER_SECRET });
  const limited = encodeCaller({ name: 'grading', scopes: ['register'], services: ['GradingService'] });
  const other = await forwardedPost(url, { [FORWARDED_HEADER]: CLUSTER_SECRET, [CALLER_HEADER]: limited }, ttlRegistration('LogService', 'http://127.0.0.1:9/l'));
  assert.equal(other.status, 403);
  const reader = encodeCaller({ name: 'reader', scopes: ['read'], services: null });
  assert.equal((await forwardedPost(url, { [FORWARDED_HEADER]: CLUSTER_SECRET, [CALLER_HEADER]: reader }, ttlRegistration('LogService', 'http://127.0.0.1:9/l'))).status, 403);
  assert.equal((await forwardedPost(url, { [FORWARDED_HEADER]: CLUSTER_SECRET, [CALLER_HEADER]: 'garbage' }, ttlRegistration('LogService', 'http://127.0.0.1:9/l'))).status, 401);
  assert.equal((await forwardedPost(url, { [FORWARDED_HEADER]: CLUSTER_SECRET }, ttlRegistration('LogService', 'http://127.0.0.1:9/l'))).status, 401, 'no caller at all');
});
