// Writes per credential per window (@fastify/rate-limit on the registry's clock): register and
// deregister of both protocols count, renewals do not; the next is a 429 RATE_LIMITED with
// Retry-After that changes nothing; another credential is not affected; the window passes on the clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../helpers/fake-clock.js';
import { call, catalogUrls, courseBody, registerV1, rejectionsOf, SECRETS, startLimitsRegistry } from './limits-registry.js';

const LIMITS = { writesPerWindow: 3, writeWindowMs: 10_000 };

test('writesPerWindow: register and deregister count; the next write is refused until the window passes', async (t) => {
  const clock = new FakeClock();
  const running = await startLimitsRegistry(t, { clock, limits: LIMITS });
  const registered = await registerV1(running.url, SECRETS.alice, 'Worker', 7001);
  assert.equal(registered.status, 201);
  const id = (registered.json.instance as { id: string }).id;
  assert.equal((await registerV1(running.url, SECRETS.alice, 'Worker', 7002)).status, 201);
  assert.equal((await registerV1(running.url, SECRETS.alice, 'Worker', 7004)).status, 201);
  const before = await catalogUrls(running);

  const refused = await call(running.url, 'DELETE', `/v1/instances/${id}`, { token: SECRETS.alice });
  assert.equal(refused.status, 429);
  assert.equal(refused.json.code, 'RATE_LIMITED');
  assert.match(refused.json.message ?? '', /at most 3 per 10000 ms for credential "alice" \(limits\.writesPerWindow\); retry in 10 s/);
  assert.equal(refused.headers['retry-after'], '10');
  assert.deepEqual(await catalogUrls(running), before, 'the refused deregistration removed nothing');
  assert.equal(await rejectionsOf(running, 'writesPerWindow'), 1);

  // Reads are not writes; another credential has a window of its own.
  assert.equal((await call(running.url, 'GET', `/v1/instances/${id}`, { token: SECRETS.alice })).status, 200);
  assert.equal((await registerV1(running.url, SECRETS.bob, 'Worker', 7003)).status, 201);

  await clock.tick(4_000);
  const later = await call(running.url, 'DELETE', `/v1/instances/${id}`, { token: SECRETS.alice });
  assert.equal(later.headers['retry-after'], '6', 'Retry-After counts down on the registry clock');
  await clock.tick(6_000);
  assert.equal((await call(running.url, 'DELETE', `/v1/instances/${id}`, { token: SECRETS.alice })).status, 200);
  assert.equal(await rejectionsOf(running, 'writesPerWindow'), 2);
});

test('writesPerWindow: course callers are counted by source address, their refusal is text with Retry-After', async (t) => {
  const clock = new FakeClock();
  const running = await startLimitsRegistry(t, { clock, limits: LIMITS });
  for (const port of [4000, 4001, 4002]) {
    assert.equal((await call(running.url, 'POST', '/services', { body: courseBody('LogService', port) })).status, 200);
  }
  const before = await catalogUrls(running);

  const refused = await call(running.url, 'POST', '/services', { body: courseBody('LogService', 4003) });
  assert.equal(refused.status, 429);
  assert.match(refused.text, /too many writes: at most 3 per 10000 ms for source address 127\.0\.0\.1 \(limits\.writesPerWindow\)/);
  assert.equal(refused.headers['retry-after'], '10');
  assert.deepEqual(await catalogUrls(running), before);
  assert.equal(await rejectionsOf(running, 'writesPerWindow'), 1);
  // A token's writes are counted apart from the course callers' on the same address.
  assert.equal((await registerV1(running.url, SECRETS.alice, 'Worker', 7001)).status, 201);
});

test('writesPerWindow: renewals are not counted, so one credential keeps many TTL instances alive', async (t) => {
  const clock = new FakeClock();
  const running = await startLimitsRegistry(t, { clock, limits: LIMITS });
  const ids: string[] = [];
  for (const port of [7001, 7002, 7003]) {
    const registered = await registerV1(running.url, SECRETS.alice, 'Worker', port);
    assert.equal(registered.status, 201);
    ids.push((registered.json.instance as { id: string }).id);
  }
  // Ten renewals of each, far beyond the three writes of the window, all in the same window.
  for (let round = 0; round < 10; round += 1) {
    for (const id of ids) assert.equal((await call(running.url, 'POST', `/v1/instances/${id}/renew`, { token: SECRETS.alice })).status, 200);
  }
  assert.equal(await rejectionsOf(running, 'writesPerWindow'), 0);

  const refused = await registerV1(running.url, SECRETS.alice, 'Worker', 7004);
  assert.equal(refused.status, 429, 'a registration over the limit is still refused');
  assert.equal(refused.json.code, 'RATE_LIMITED');
  assert.equal(await rejectionsOf(running, 'writesPerWindow'), 1);
});
