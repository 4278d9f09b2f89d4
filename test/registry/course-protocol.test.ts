// The course's wire protocol at the byte level: what a Go service sends and what it receives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startRegistry, type RunningRegistry } from '../../src/registry/start-registry.js';
import { RecordingService } from '../helpers/recording-service.js';

async function setup(t: import('node:test').TestContext): Promise<RunningRegistry> {
  const running = await startRegistry({ host: '127.0.0.1', port: 0, health: { intervalMs: 60_000 } });
  t.after(() => running.close());
  return running;
}

async function service(t: import('node:test').TestContext): Promise<RecordingService> {
  const recording = await RecordingService.start();
  t.after(() => recording.close());
  return recording;
}

/** Sends a body exactly as Go's http.Post does: JSON with a trailing newline. */
async function goRegister(registryUrl: string, registration: object) {
  const response = await request(`${registryUrl}/services`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: `${JSON.stringify(registration)}\n`,
  });
  return { status: response.statusCode, body: await response.body.text() };
}

async function goDeregister(registryUrl: string, url: string) {
  const response = await request(`${registryUrl}/services`, {
    method: 'DELETE',
    headers: { 'content-type': 'text/plain' },
    body: url,
  });
  return { status: response.statusCode, body: await response.body.text() };
}

test('the exact JSON of the course registers an instance: 200, empty body', async (t) => {
  const registry = await setup(t);
  const log = await service(t);
  const body = `{"ServiceName":"LogService","ServiceURL":"${log.url}","RequiredServices":[],"ServiceUpdateURL":"${log.url}/services","HeartbeatURL":"${log.url}/heartbeat"}\n`;
  const response = await request(`${registry.url}/services`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  assert.equal(response.statusCode, 200);
  assert.equal(await response.body.text(), '');
  const state = (await (await fetch(`${registry.url}/v1/state`, { headers: { authorization: `Bearer ${registry.adminToken}` } })).json()) as { instances: Array<{ service: string; url: string; protocol: string }> };
  assert.deepEqual(state.instances.map((i) => [i.service, i.url, i.protocol]), [['LogService', log.url, 'course']]);
});

test('a registering service has its providers before its register call returns', async (t) => {
  const registry = await setup(t);
  const log = await service(t);
  const grading = await service(t);
  assert.equal((await goRegister(registry.url, log.registration('LogService'))).status, 200);

  const answer = await goRegister(registry.url, grading.registration('GradingService', ['LogService']));

  assert.equal(answer.status, 200);
  // Already received, not merely sent: the Go grading service reads it right after registering.
  const last = grading.patchBodies.at(-1);
  assert.equal(last, `{"Added":[{"Name":"LogService","URL":"${log.url}"}],"Removed":[],"Revision":2,"PrevRevision":0}`);
  assert.equal(grading.requests.find((r) => r.path === '/services')?.headers['content-type'], 'application/json');
});

test('dependents receive Added when a provider registers and Removed when it deregisters', async (t) => {
  const registry = await setup(t);
  const log = await service(t);
  const grading = await service(t);
  await goRegister(registry.url, grading.registration('GradingService', ['LogService']));
  assert.equal(grading.patchBodies[0], '{"Added":[],"Removed":[],"Revision":1,"PrevRevision":0}');

  await goRegister(registry.url, log.registration('LogService'));
  await grading.waitFor((s) => s.patchBodies.length === 2);
  assert.equal(grading.patchBodies[1], `{"Added":[{"Name":"LogService","URL":"${log.url}"}],"Removed":[],"Revision":2,"PrevRevision":1}`);

  const removed = await goDeregister(registry.url, log.url);
  assert.deepEqual(removed, { status: 200, body: '' });
  await grading.waitFor((s) => s.patchBodies.length === 3);
  assert.equal(grading.patchBodies[2], `{"Added":[],"Removed":[{"Name":"LogService","URL":"${log.url}"}],"Revision":3,"PrevRevision":2}`);
});

test('a patch names only services that its receiver requires', async (t) => {
  const registry = await setup(t);
  const log = await service(t);
  const other = await service(t);
  const grading = await service(t);
  await goRegister(registry.url, grading.registration('GradingService', ['LogService']));
  await goRegister(registry.url, other.registration('OtherService'));
  await goRegister(registry.url, log.registration('LogService'));
  await grading.waitFor((s) => s.patches.some((p) => p.Added.length > 0));
  const named = grading.patches.flatMap((p) => [...p.Added, ...p.Removed].map((e) => e.Name));
  assert.deepEqual(named, ['LogService']);
});

test('re-registering the same URL updates the instance instead of adding a duplicate', async (t) => {
  const registry = await setup(t);
  const log = await service(t);
  await goRegister(registry.url, log.registration('LogService'));
  await goRegister(registry.url, log.registration('LogService'));
  const body = (await (await fetch(`${registry.url}/v1/services/LogService`, { headers: { authorization: `Bearer ${registry.adminToken}` } })).json()) as { service: { instances: unknown[] } };
  assert.equal(body.service.instances.length, 1);
});

test('DELETE of an unknown URL answers 404; other methods answer 405; bad JSON answers 400', async (t) => {
  const registry = await setup(t);
  assert.equal((await goDeregister(registry.url, 'http://127.0.0.1:1')).status, 404);
  const get = await request(`${registry.url}/services`);
  assert.equal(get.statusCode, 405);
  assert.equal(get.headers.allow, 'POST, DELETE');
  await get.body.dump();
  const bad = await request(`${registry.url}/services`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"ServiceName":' });
  assert.equal(bad.statusCode, 400);
  assert.match(await bad.body.text(), /not valid JSON/);
});

test('the course registry\'s null RequiredServices (a Go nil slice) is accepted as none', async (t) => {
  const registry = await setup(t);
  const log = await service(t);
  const answer = await goRegister(registry.url, { ...log.registration('LogService'), RequiredServices: null });
  assert.equal(answer.status, 200);
});
