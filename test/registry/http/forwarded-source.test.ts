// In cluster mode a follower forwards writes to the leader, which counts course callers and
// writes without a credential by their source address: the caller's, as the follower heard it and
// vouched for with the cluster secret, never the follower's own. A source header without the
// secret is not believed.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance } from 'fastify';
import { accessGuard } from '../../../src/registry/http/access-guard.js';
import { writerOf } from '../../../src/registry/http/write-rate-limit.js';
import { forwardWritesToLeader } from '../../../src/registry/cluster/forward-writes.js';
import { FORWARDED_HEADER, SOURCE_HEADER } from '../../../src/registry/auth/forwarded.js';
import type { ClusterRegistry } from '../../../src/registry/cluster/cluster-registry.js';
import { SourceList } from '../../../src/shared/source-list.js';

const SECRET = 'the-cluster-secret';
const COURSE_BODY = JSON.stringify({ ServiceName: 'LogService', ServiceURL: 'http://127.0.0.1:4000' });

/** A registry node's guard (authentication off) and two writes that answer whom they count against. */
async function node(t: TestContext, setUp: (app: FastifyInstance) => void = () => {}): Promise<FastifyInstance> {
  const app = Fastify();
  t.after(() => app.close());
  await app.register(accessGuard({ authenticator: null, course: { enabled: true, sources: new SourceList(['127.0.0.0/8', '::1/128'], 'course-sources') }, clusterSecret: () => SECRET }));
  setUp(app);
  app.post('/services', { config: { access: 'course' } }, async (request) => ({ writer: writerOf(request) }));
  app.post('/v1/instances', { config: { access: 'register' } }, async (request) => ({ writer: writerOf(request) }));
  return app;
}

const post = (app: FastifyInstance, url: string, remoteAddress: string, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url, remoteAddress, headers: { 'content-type': 'application/json', ...headers }, payload: COURSE_BODY });

test('a forwarded write counts against the source address the forwarding node vouches for', async (t) => {
  const leader = await node(t);
  for (const url of ['/services', '/v1/instances']) {
    const answer = await post(leader, url, '127.0.0.2', { [FORWARDED_HEADER]: SECRET, [SOURCE_HEADER]: '203.0.113.7' });
    assert.equal(answer.statusCode, 200, answer.body);
    assert.deepEqual(answer.json(), { writer: 'source address 203.0.113.7' }, url);
  }
  const v6 = await post(leader, '/services', '127.0.0.2', { [FORWARDED_HEADER]: SECRET, [SOURCE_HEADER]: '2001:db8:1:2::5' });
  assert.deepEqual(v6.json(), { writer: 'source address 2001:db8:1:2::/64' });
});

test('a source header is not believed without the cluster secret', async (t) => {
  const leader = await node(t);
  const alone = await post(leader, '/services', '127.0.0.3', { [SOURCE_HEADER]: '203.0.113.7' });
  assert.deepEqual(alone.json(), { writer: 'source address 127.0.0.3' });
  const forged = await post(leader, '/services', '127.0.0.3', { [FORWARDED_HEADER]: 'not-the-secret', [SOURCE_HEADER]: '203.0.113.7' });
  assert.equal(forged.statusCode, 401);
  const garbled = await post(leader, '/services', '127.0.0.3', { [FORWARDED_HEADER]: SECRET, [SOURCE_HEADER]: 'somewhere' });
  assert.equal(garbled.statusCode, 401);
});

test('a follower forwards the caller\'s address: callers behind one follower keep windows of their own', async (t) => {
  const leader = await node(t);
  const leaderUrl = await leader.listen({ port: 0, host: '127.0.0.1' });
  const cluster = { isLeader: false, leaderUrl, clusterSecret: SECRET, leaderKnown: async () => leaderUrl } as unknown as ClusterRegistry;
  const follower = await node(t, (app) => t.after(forwardWritesToLeader(app, cluster)));
  for (const caller of ['127.0.0.5', '127.0.0.6']) {
    const answer = await post(follower, '/services', caller);
    assert.equal(answer.statusCode, 200, answer.body);
    assert.deepEqual(JSON.parse(answer.body), { writer: `source address ${caller}` });
  }
});
