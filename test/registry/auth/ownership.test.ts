// Through HTTP: an instance belongs to the token that registered it. Another token can neither
// take it over (same URL under another name or another update URL) nor remove or renew it;
// an admin can.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startAuthServer, SECRETS, bearer, ttlRegistration, JSON_HEADERS } from './auth-server.js';

const VICTIM_URL = 'http://127.0.0.1:9/alice';

async function send(url: string, method: 'POST' | 'DELETE', path: string, headers: Record<string, string>, body?: string) {
  const answer = await request(`${url}${path}`, { method, headers: body ? { ...JSON_HEADERS, ...headers } : headers, body });
  const text = await answer.body.text();
  return { status: answer.statusCode, text };
}

async function withVictim(t: import('node:test').TestContext) {
  const server = await startAuthServer(t);
  const created = await send(server.url, 'POST', '/v1/instances', bearer(SECRETS.alice), ttlRegistration('Alpha', VICTIM_URL));
  assert.equal(created.status, 201, created.text);
  const id = (JSON.parse(created.text) as { instance: { id: string } }).instance.id;
  const snapshot = () => JSON.stringify(server.registry.instances().map(({ lastCheckAt: _lastCheckAt, ...rest }) => rest));
  return { ...server, id, before: snapshot(), snapshot };
}

test('re-registering another token\'s URL under another name or update URL: 409 NOT_OWNER, victim unchanged', async (t) => {
  const { url, registry, before, snapshot } = await withVictim(t);
  for (const hijack of [ttlRegistration('Beta', VICTIM_URL), ttlRegistration('Alpha', VICTIM_URL, { updateUrl: 'http://127.0.0.1:9/steal' })]) {
    const answer = await send(url, 'POST', '/v1/instances', bearer(SECRETS.bob), hijack);
    assert.equal(answer.status, 409, answer.text);
    assert.equal((JSON.parse(answer.text) as { code: string }).code, 'NOT_OWNER');
  }
  assert.equal(snapshot(), before);
  assert.equal(registry.instances()[0]?.owner, 'alice');
});

test('DELETE of another\'s instance: anonymous 401, another token 409, its owner or an admin may', async (t) => {
  const { url, id, before, snapshot, registry } = await withVictim(t);
  assert.equal((await send(url, 'DELETE', `/v1/instances/${id}`, {})).status, 401);
  const other = await send(url, 'DELETE', `/v1/instances/${id}`, bearer(SECRETS.bob));
  assert.equal(other.status, 409);
  assert.match(other.text, /NOT_OWNER/);
  assert.equal((await send(url, 'POST', `/v1/instances/${id}/renew`, bearer(SECRETS.bob))).status, 409);
  assert.equal(snapshot(), before);
  assert.equal((await send(url, 'DELETE', `/v1/instances/${id}`, bearer(SECRETS.admin))).status, 200);
  assert.equal(registry.instances().length, 0);
});

test('the owner itself may re-register, renew and remove its instance', async (t) => {
  const { url, id, registry } = await withVictim(t);
  assert.equal((await send(url, 'POST', '/v1/instances', bearer(SECRETS.alice), ttlRegistration('Alpha', VICTIM_URL, { metadata: { version: '2' } }))).status, 200);
  assert.equal((await send(url, 'POST', `/v1/instances/${id}/renew`, bearer(SECRETS.alice))).status, 200);
  assert.equal((await send(url, 'DELETE', `/v1/instances/${id}`, bearer(SECRETS.alice))).status, 200);
  assert.equal(registry.instances().length, 0);
});

test('the course API can neither remove nor take over an instance a token owns', async (t) => {
  const { url, before, snapshot } = await withVictim(t);
  const removed = await request(`${url}/services`, { method: 'DELETE', headers: { 'content-type': 'text/plain' }, body: VICTIM_URL });
  assert.equal(removed.statusCode, 409);
  assert.match(await removed.body.text(), /belongs to "alice"/);
  const course = JSON.stringify({ ServiceName: 'Beta', ServiceURL: VICTIM_URL, RequiredServices: [], ServiceUpdateURL: '', HeartbeatURL: '' });
  const taken = await request(`${url}/services`, { method: 'POST', headers: JSON_HEADERS, body: course });
  assert.equal(taken.statusCode, 409);
  await taken.body.dump();
  assert.equal(snapshot(), before);
});
