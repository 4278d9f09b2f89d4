// The course API takes no token, so it has rules of its own: allowed source addresses only
// (loopback by default), no Origin header (no browser), POST only as application/json, and an
// option to switch it off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startAuthServer, JSON_HEADERS } from './auth-server.js';

const registration = (url: string) => JSON.stringify({ ServiceName: 'LogService', ServiceURL: url, RequiredServices: [], ServiceUpdateURL: '', HeartbeatURL: '' });

async function post(url: string, headers: Record<string, string>, body: string) {
  const answer = await request(`${url}/services`, { method: 'POST', headers, body });
  return { status: answer.statusCode, text: await answer.body.text(), type: String(answer.headers['content-type']) };
}

test('from loopback, as application/json, without Origin: registered as the caller "course"', async (t) => {
  const { url, registry } = await startAuthServer(t);
  const answer = await post(url, JSON_HEADERS, `${registration('http://127.0.0.1:9/log')}\n`);
  assert.equal(answer.status, 200, answer.text);
  assert.equal(answer.text, '');
  assert.deepEqual(registry.instances().map((i) => [i.service, i.owner, i.protocol]), [['LogService', 'course', 'course']]);
  // A course caller may remove what course callers registered.
  const removed = await request(`${url}/services`, { method: 'DELETE', headers: { 'content-type': 'text/plain' }, body: 'http://127.0.0.1:9/log' });
  assert.equal(removed.statusCode, 200);
  await removed.body.dump();
  assert.equal(registry.instances().length, 0);
});

test('a POST that is not application/json is refused and registers nothing', async (t) => {
  const { url, registry } = await startAuthServer(t);
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
    const answer = await post(url, { 'content-type': type }, registration('http://127.0.0.1:9/log'));
    assert.equal(answer.status, 415, type);
    assert.match(answer.type, /text\/plain/);
    assert.match(answer.text, /Content-Type: application\/json/);
  }
  assert.equal(registry.instances().length, 0);
});

test('a request with an Origin header (a browser) is refused: 403', async (t) => {
  const { url, registry } = await startAuthServer(t);
  const answer = await post(url, { ...JSON_HEADERS, origin: 'http://evil.example' }, registration('http://127.0.0.1:9/log'));
  assert.equal(answer.status, 403);
  assert.match(answer.text, /Origin/);
  const removal = await request(`${url}/services`, { method: 'DELETE', headers: { origin: 'http://evil.example' }, body: 'http://127.0.0.1:9/log' });
  assert.equal(removal.statusCode, 403);
  await removal.body.dump();
  assert.equal(registry.instances().length, 0);
});

test('a source address that is not allowed is refused: 403', async (t) => {
  const { url, registry } = await startAuthServer(t, { course: { sources: ['10.0.0.0/8', '2001:db8::/32'] } });
  const answer = await post(url, JSON_HEADERS, registration('http://127.0.0.1:9/log'));
  assert.equal(answer.status, 403);
  assert.match(answer.text, /not one/);
  assert.equal(registry.instances().length, 0);
});

test('an allowed source list that names loopback lets it in', async (t) => {
  const { url } = await startAuthServer(t, { course: { sources: ['10.0.0.0/8', '127.0.0.1'] } });
  assert.equal((await post(url, JSON_HEADERS, registration('http://127.0.0.1:9/log'))).status, 200);
});

test('the course API switched off refuses everything: 403 with a message', async (t) => {
  const { url, registry } = await startAuthServer(t, { course: { enabled: false } });
  const answer = await post(url, JSON_HEADERS, registration('http://127.0.0.1:9/log'));
  assert.equal(answer.status, 403);
  assert.match(answer.text, /switched off/);
  assert.equal(registry.instances().length, 0);
});

test('bad course options are refused at construction, naming the option', async (t) => {
  await assert.rejects(startAuthServer(t, { course: { sources: ['localhost'] } }), /option "course\.sources" must be a list of IP addresses or CIDRs .*"localhost"/);
  await assert.rejects(startAuthServer(t, { course: { sources: ['10.0.0.0/33'] } }), /course\.sources/);
});
