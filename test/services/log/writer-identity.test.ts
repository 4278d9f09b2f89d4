import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createWhoamiIdentity, writerName, type WhoamiIdentityOptions } from '../../../src/services/log/index.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const GRADING = { name: 'grading', scopes: ['register'], services: ['GradingService'] };

/** A stand-in registry answering GET /v1/auth/whoami for one token; `asked` counts the questions. */
async function registry(t: TestContext, answer?: RequestListener): Promise<{ url: string; asked: () => number }> {
  let asked = 0;
  const server = createServer((req, res) => {
    asked++;
    if (answer) return answer(req, res);
    if (req.url !== '/v1/auth/whoami') return res.writeHead(404).end();
    if (req.headers.authorization !== 'Bearer grading-secret') return res.writeHead(401, { 'www-authenticate': 'Bearer' }).end('{"code":"UNAUTHORIZED","message":"unknown token"}');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(GRADING));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, asked: () => asked };
}

function identity(t: TestContext, urls: string[], options: Partial<WhoamiIdentityOptions> = {}) {
  const clock = new FakeClock();
  const created = createWhoamiIdentity({ registryUrls: () => urls, clock, ...options });
  t.after(() => created.close());
  return { identity: created, clock };
}

test('a known token is the writer the registry describes; an unknown one is null', async (t) => {
  const reg = await registry(t);
  const { identity: who } = identity(t, [reg.url]);
  assert.deepEqual(await who.identify('grading-secret'), GRADING);
  assert.equal(await who.identify('nobody'), null);
});

test('answers are kept for ttlMs on the injected clock, then asked again', async (t) => {
  const reg = await registry(t);
  const { identity: who, clock } = identity(t, [reg.url], { ttlMs: 30_000 });
  await who.identify('grading-secret');
  await clock.tick(29_999);
  await who.identify('grading-secret');
  assert.equal(reg.asked(), 1);
  await clock.tick(1);
  await who.identify('grading-secret');
  assert.equal(reg.asked(), 2);
});

test('concurrent lookups of one token ask once; unknown tokens are kept only briefly', async (t) => {
  const reg = await registry(t);
  const { identity: who, clock } = identity(t, [reg.url], { unknownTtlMs: 5_000 });
  await Promise.all([who.identify('grading-secret'), who.identify('grading-secret'), who.identify('grading-secret')]);
  assert.equal(reg.asked(), 1);
  await who.identify('nobody');
  await who.identify('nobody');
  assert.equal(reg.asked(), 2);
  await clock.tick(5_000);
  await who.identify('nobody');
  assert.equal(reg.asked(), 3);
});

test('the cache is bounded: the oldest answer goes first', async (t) => {
  const reg = await registry(t);
  const { identity: who } = identity(t, [reg.url], { maxEntries: 2 });
  for (const token of ['a-token', 'b-token', 'c-token']) await who.identify(token);
  await who.identify('c-token');
  await who.identify('b-token');
  assert.equal(reg.asked(), 3, 'b and c are still kept');
  await who.identify('a-token');
  assert.equal(reg.asked(), 4, 'a was dropped');
});

test('an unreachable or failing registry is an error (503), not an unknown token, and is not kept', async (t) => {
  const failing = await registry(t, (_req, res) => res.writeHead(500).end());
  const good = await registry(t);
  const { identity: who } = identity(t, [failing.url]);
  await assert.rejects(who.identify('grading-secret'), { code: 'REGISTRY_UNREACHABLE', status: 503, message: /HTTP 500/ });
  await assert.rejects(who.identify('grading-secret'), { code: 'REGISTRY_UNREACHABLE' });
  assert.equal(failing.asked(), 2);

  const { identity: failover } = identity(t, [failing.url, good.url]);
  assert.deepEqual(await failover.identify('grading-secret'), GRADING, 'the next registry URL answers');
});

test('a redirect is not followed: the token goes to the registry only', async (t) => {
  const elsewhere = await registry(t);
  const redirecting = await registry(t, (_req, res) => res.writeHead(307, { location: `${elsewhere.url}/v1/auth/whoami` }).end());
  const { identity: who } = identity(t, [redirecting.url]);
  await assert.rejects(who.identify('grading-secret'), { code: 'REGISTRY_UNREACHABLE', message: /HTTP 307/ });
  assert.equal(elsewhere.asked(), 0);
});

test("writerName: the token's one service, else the token's name", () => {
  assert.equal(writerName(GRADING), 'GradingService');
  assert.equal(writerName({ name: 'ops', scopes: ['register'], services: ['A', 'B'] }), 'ops');
  assert.equal(writerName({ name: 'admin', scopes: ['admin'], services: null }), 'admin');
});

test('without a token only a registry with authentication off answers, and it vouches for nobody', async (t) => {
  const open = await registry(t, (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"name":"anonymous","scopes":["admin"],"services":null,"authentication":false}'));
  const secure = await registry(t);
  const { identity: insecure } = identity(t, [open.url]);
  const { identity: strict } = identity(t, [secure.url]);

  const anonymous = await insecure.identify(null);
  assert.equal(anonymous?.authentication, false);
  assert.equal(writerName(anonymous!, 'Portal'), 'Portal', "the entry's own claim stands");
  assert.equal(writerName(anonymous!), 'anonymous');
  assert.equal(await strict.identify(null), null);
  assert.equal(writerName(GRADING, 'Portal'), 'GradingService', 'a known writer is never renamed by its claim');
});
