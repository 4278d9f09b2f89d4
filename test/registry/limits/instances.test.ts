// The catalog's bounds: instances in total, per service and per credential. A refusal is a 429
// LIMIT_REACHED naming the limit, through either protocol; nothing changes; /metrics counts it;
// re-registering an instance already there never counts as new.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { call, catalogUrls, courseBody, registerV1, rejectionsOf, SECRETS, startLimitsRegistry, v1Body } from './limits-registry.js';

test('maxInstancesPerService: the next instance of a full service is refused, others and re-registrations pass', async (t) => {
  const running = await startLimitsRegistry(t, { limits: { maxInstancesPerService: 2 } });
  for (const port of [7001, 7002]) assert.equal((await registerV1(running.url, running.admin, 'Greeter', port)).status, 201);
  const before = await catalogUrls(running);

  const refused = await registerV1(running.url, running.admin, 'Greeter', 7003);
  assert.equal(refused.status, 429);
  assert.equal(refused.json.code, 'LIMIT_REACHED');
  assert.match(refused.json.message ?? '', /"maxInstancesPerService" \(2\)/);
  assert.match(refused.json.message ?? '', /service "Greeter" has 2 instances/);
  assert.deepEqual(await catalogUrls(running), before);
  assert.equal(await rejectionsOf(running, 'maxInstancesPerService'), 1);

  // The same URL again is an update, not a new instance; another service has room of its own.
  assert.equal((await registerV1(running.url, running.admin, 'Greeter', 7002)).status, 200);
  assert.equal((await registerV1(running.url, running.admin, 'Caller', 7003)).status, 201);
  assert.equal(await rejectionsOf(running, 'maxInstancesPerService'), 1);
});

test('maxInstances: the course protocol is refused too, as text that names the limit, with the catalog unchanged', async (t) => {
  const running = await startLimitsRegistry(t, { limits: { maxInstances: 2 } });
  const course = (port: number) => call(running.url, 'POST', '/services', { body: courseBody('LogService', port) });
  assert.equal((await course(4000)).status, 200);
  assert.equal((await registerV1(running.url, running.admin, 'Greeter', 7001)).status, 201);
  const before = await catalogUrls(running);

  const refusedCourse = await course(4001);
  assert.equal(refusedCourse.status, 429);
  assert.match(refusedCourse.text, /the limit "maxInstances" \(2\) is reached; nothing was changed/);
  const refusedV1 = await registerV1(running.url, running.admin, 'Greeter', 7002);
  assert.equal(refusedV1.json.code, 'LIMIT_REACHED');
  assert.match(refusedV1.json.message ?? '', /the registry holds 2 instances/);
  assert.deepEqual(await catalogUrls(running), before);
  assert.equal(await rejectionsOf(running, 'maxInstances'), 2);

  // Re-registering through the course protocol is an update; a deregistration makes room.
  assert.equal((await course(4000)).status, 200);
  assert.equal((await call(running.url, 'DELETE', '/services', { body: 'http://127.0.0.1:4000', headers: { 'content-type': 'text/plain' } })).status, 200);
  assert.equal((await registerV1(running.url, running.admin, 'Greeter', 7002)).status, 201);
});

test('maxInstancesPerCredential: one credential is refused, another still registers', async (t) => {
  const running = await startLimitsRegistry(t, { limits: { maxInstancesPerCredential: 2 } });
  for (const port of [7001, 7002]) assert.equal((await registerV1(running.url, SECRETS.alice, 'Worker', port)).status, 201);
  const before = await catalogUrls(running);

  const refused = await call(running.url, 'POST', '/v1/instances', { token: SECRETS.alice, body: v1Body('Other', 7003) });
  assert.equal(refused.status, 429);
  assert.equal(refused.json.code, 'LIMIT_REACHED');
  assert.match(refused.json.message ?? '', /credential "alice" has registered 2 instances: the limit "maxInstancesPerCredential" \(2\)/);
  assert.deepEqual(await catalogUrls(running), before);
  assert.equal(await rejectionsOf(running, 'maxInstancesPerCredential'), 1);

  assert.equal((await registerV1(running.url, SECRETS.bob, 'Worker', 7003)).status, 201);
  assert.equal((await registerV1(running.url, SECRETS.alice, 'Worker', 7001)).status, 200, 'a re-registration of its own instance passes');
});

test('maxInstancesPerService: re-registering a URL under another service counts against that service', async (t) => {
  const running = await startLimitsRegistry(t, { limits: { maxInstancesPerService: 2 } });
  for (const port of [7001, 7002]) assert.equal((await registerV1(running.url, running.admin, 'Greeter', port)).status, 201);
  assert.equal((await registerV1(running.url, running.admin, 'Other', 7003)).status, 201);
  const before = await catalogUrls(running);

  const moved = await registerV1(running.url, running.admin, 'Greeter', 7003);
  assert.equal(moved.status, 429);
  assert.equal(moved.json.code, 'LIMIT_REACHED');
  assert.match(moved.json.message ?? '', /service "Greeter" has 2 instances/);
  assert.deepEqual(await catalogUrls(running), before);
  assert.equal(running.registry.instances().filter((record) => record.service === 'Greeter').length, 2);
  assert.equal(await rejectionsOf(running, 'maxInstancesPerService'), 1);
});

test('maxInstancesPerCredential: re-registering another credential\'s URL counts against the new owner', async (t) => {
  const running = await startLimitsRegistry(t, { limits: { maxInstancesPerCredential: 2 } });
  for (const port of [7001, 7002]) assert.equal((await registerV1(running.url, running.admin, 'Worker', port)).status, 201);
  assert.equal((await registerV1(running.url, SECRETS.alice, 'Worker', 7003)).status, 201);

  // The admin may take over alice's instance, but not beyond its own bound.
  const takenOver = await registerV1(running.url, running.admin, 'Worker', 7003);
  assert.equal(takenOver.status, 429);
  assert.match(takenOver.json.message ?? '', /has registered 2 instances: the limit "maxInstancesPerCredential" \(2\)/);
  assert.equal(running.registry.instances().find((record) => record.url === 'http://127.0.0.1:7003')?.owner, 'alice');
  assert.equal(await rejectionsOf(running, 'maxInstancesPerCredential'), 1);
});
