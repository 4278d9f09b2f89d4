// The dashboard signs in once with /login?token=…; its session cookie then reads (GET/HEAD of
// read routes) and never writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startAuthServer, SECRETS, ttlRegistration, JSON_HEADERS } from './auth-server.js';

async function login(url: string, token: string) {
  const answer = await request(`${url}/login?token=${encodeURIComponent(token)}`);
  await answer.body.dump();
  return answer;
}

test('GET /login with a valid token: 303 to / with an HttpOnly, SameSite=Strict session cookie', async (t) => {
  const { url } = await startAuthServer(t);
  const answer = await login(url, SECRETS.reader);
  assert.equal(answer.statusCode, 303);
  assert.equal(answer.headers.location, '/');
  assert.equal(answer.headers['cache-control'], 'no-store');
  const cookie = String(answer.headers['set-cookie']);
  assert.match(cookie, /^roster_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict$/);
  assert.doesNotMatch(cookie, /Secure/, 'plain HTTP: not Secure');
});

test('GET /login with an unknown or no token: 401, no cookie', async (t) => {
  const { url } = await startAuthServer(t);
  const answer = await login(url, 'not-a-token-of-this-registry');
  assert.equal(answer.statusCode, 401);
  assert.equal(answer.headers['set-cookie'], undefined);
  const none = await request(`${url}/login`);
  assert.equal(none.statusCode, 400);
  await none.body.dump();
});

test('the cookie reads the dashboard, /v1/state and /v1/watch, but a POST with the cookie alone is 401', async (t) => {
  const { url, registry } = await startAuthServer(t);
  const cookie = String((await login(url, SECRETS.admin)).headers['set-cookie']).split(';')[0]!;
  for (const path of ['/', '/dashboard/app.js', '/v1/state', '/v1/auth/whoami']) {
    const answer = await request(`${url}${path}`, { headers: { cookie } });
    assert.equal(answer.statusCode, 200, path);
    await answer.body.dump();
  }
  const watch = await request(`${url}/v1/watch`, { headers: { cookie } });
  assert.equal(watch.statusCode, 200);
  assert.match(String(watch.headers['content-type']), /text\/event-stream/);
  watch.body.destroy();

  const write = await request(`${url}/v1/instances`, { method: 'POST', headers: { cookie, ...JSON_HEADERS }, body: ttlRegistration('LogService', 'http://127.0.0.1:9/log') });
  assert.equal(write.statusCode, 401);
  await write.body.dump();
  assert.equal(registry.instances().length, 0);
});

test('without the cookie the dashboard page is 401 and says how to sign in', async (t) => {
  const { url } = await startAuthServer(t);
  const answer = await request(`${url}/`);
  assert.equal(answer.statusCode, 401);
  assert.match(await answer.body.text(), /\/login\?token=/);
});

test('a browser opening the dashboard without signing in gets a page that says how; an API client gets JSON', async (t) => {
  const { url } = await startAuthServer(t);
  const page = await request(`${url}/`, { headers: { accept: 'text/html,application/xhtml+xml' } });
  assert.equal(page.statusCode, 401);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.match(await page.body.text(), /\/login\?token=/);
  const api = await request(`${url}/`, { headers: { accept: 'application/json' } });
  assert.equal(api.statusCode, 401);
  assert.equal(((await api.body.json()) as { code: string }).code, 'UNAUTHORIZED');
});
