// 401 without a valid token, 403 with a token that lacks the scope, allowed with one that has it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startAuthServer, SECRETS, bearer, ttlRegistration, JSON_HEADERS } from './auth-server.js';

async function call(url: string, method: 'GET' | 'POST' | 'DELETE', path: string, headers: Record<string, string> = {}, body?: string) {
  const answer = await request(`${url}${path}`, { method, headers: body ? { ...JSON_HEADERS, ...headers } : headers, body });
  const text = await answer.body.text();
  const json = String(answer.headers['content-type']).startsWith('application/json');
  return { status: answer.statusCode, headers: answer.headers, body: json ? (JSON.parse(text) as Record<string, unknown>) : { text } };
}

test('no token or an unknown one: 401 UNAUTHORIZED with WWW-Authenticate: Bearer', async (t) => {
  const { url } = await startAuthServer(t);
  for (const headers of [{}, bearer('not-a-token-of-this-registry'), { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }, { authorization: 'Bearer' }]) {
    const answer = await call(url, 'GET', '/v1/state', headers);
    assert.equal(answer.status, 401, JSON.stringify(headers));
    assert.equal(answer.headers['www-authenticate'], 'Bearer realm="roster"');
    assert.equal(answer.body.code, 'UNAUTHORIZED');
    assert.match(String(answer.body.message), /"read" scope/);
  }
});

test('a read token reads but may not register: 403 FORBIDDEN naming the scope', async (t) => {
  const { url, registry } = await startAuthServer(t);
  assert.equal((await call(url, 'GET', '/v1/state', bearer(SECRETS.reader))).status, 200);
  assert.equal((await call(url, 'GET', '/metrics', bearer(SECRETS.reader))).status, 200);
  const refused = await call(url, 'POST', '/v1/instances', bearer(SECRETS.reader), ttlRegistration('LogService', 'http://127.0.0.1:9/log'));
  assert.equal(refused.status, 403);
  assert.deepEqual(Object.keys(refused.body).sort(), ['code', 'message']);
  assert.equal(refused.body.code, 'FORBIDDEN');
  assert.match(String(refused.body.message), /needs the "register" scope; token "reader" has read/);
  assert.equal(registry.instances().length, 0);
});

test('a register token limited to services registers those and no other', async (t) => {
  const { url, registry } = await startAuthServer(t);
  const ok = await call(url, 'POST', '/v1/instances', bearer(SECRETS.grading), ttlRegistration('GradingService', 'http://127.0.0.1:9/grading'));
  assert.equal(ok.status, 201, JSON.stringify(ok.body));
  const other = await call(url, 'POST', '/v1/instances', bearer(SECRETS.grading), ttlRegistration('LogService', 'http://127.0.0.1:9/log'));
  assert.equal(other.status, 403);
  assert.match(String(other.body.message), /token "grading" may register only GradingService; not "LogService"/);
  assert.deepEqual(registry.instances().map((i) => [i.service, i.owner]), [['GradingService', 'grading']]);
  // register implies read
  assert.equal((await call(url, 'GET', '/v1/services/GradingService', bearer(SECRETS.grading))).status, 200);
});

test('an admin token may do everything', async (t) => {
  const { url } = await startAuthServer(t);
  const created = await call(url, 'POST', '/v1/instances', bearer(SECRETS.admin), ttlRegistration('LogService', 'http://127.0.0.1:9/log'));
  assert.equal(created.status, 201);
  const id = (created.body as { instance: { id: string } }).instance.id;
  assert.equal((await call(url, 'POST', `/v1/instances/${id}/renew`, bearer(SECRETS.admin))).status, 200);
  assert.equal((await call(url, 'DELETE', `/v1/instances/${id}`, bearer(SECRETS.admin))).status, 200);
});

test('GET /v1/auth/whoami names the token, its scopes and its services', async (t) => {
  const { url } = await startAuthServer(t);
  const grading = await call(url, 'GET', '/v1/auth/whoami', bearer(SECRETS.grading));
  assert.equal(grading.status, 200);
  assert.deepEqual({ ...grading.body, authentication: undefined }, { name: 'grading', scopes: ['register'], services: ['GradingService'], authentication: undefined });
  const admin = await call(url, 'GET', '/v1/auth/whoami', bearer(SECRETS.admin));
  assert.deepEqual([admin.body.name, admin.body.scopes, admin.body.services], ['admin', ['admin'], null]);
  assert.equal((await call(url, 'GET', '/v1/auth/whoami')).status, 401);
});

test('public routes answer anyone', async (t) => {
  const { url } = await startAuthServer(t);
  assert.equal((await call(url, 'GET', '/v1/health')).status, 200);
  assert.equal((await call(url, 'GET', '/v1')).status, 200);
});
