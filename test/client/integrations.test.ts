// The fastify plugin and the express middleware, in real apps against a real registry: a
// dependent app is told its provider's URL, the registry's signed probes pass, a forged patch is
// refused even behind the app's body parser, and closing the app deregisters it.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Server } from 'node:http';
import Fastify from 'fastify';
import express from 'express';
import type { ChangeEvent } from '../../src/client/index.js';
import { rosterFastify } from '../../src/client/integrations/fastify.js';
import { rosterExpress } from '../../src/client/integrations/express.js';
import { startRegistry } from '../../src/registry/start-registry.js';
import { recordingLogger } from '../helpers/fake-registry.js';

const BOUNDED = { timeout: 20_000 };
const FAST_HEALTH = { intervalMs: 50, jitter: 0, timeoutMs: 500, attempts: 1, retryDelayMs: 0 };

async function registry(t: TestContext) {
  const running = await startRegistry({ host: '127.0.0.1', port: 0, health: FAST_HEALTH });
  t.after(() => running.close());
  assert.ok(running.adminToken, 'authentication is on by default');
  return { registryUrl: running.url, token: running.adminToken };
}

/** Resolves with the status of the first heartbeat answered. */
function firstHeartbeat(): { heard: Promise<number>; record: (path: string | undefined, status: number) => void } {
  let resolve: (status: number) => void = () => {};
  const heard = new Promise<number>((settle) => (resolve = settle));
  return { heard, record: (path, status) => path?.startsWith('/heartbeat') && resolve(status) };
}

async function forgedPatch(url: string): Promise<number> {
  const body = JSON.stringify({ Added: [{ Name: 'Provider', URL: 'http://127.0.0.1:1' }], Removed: [] });
  const response = await fetch(`${url}/services`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  await response.arrayBuffer();
  return response.status;
}

async function fastifyApp(t: TestContext, service: string, requires: string[], reach: { registryUrl: string; token: string }) {
  const app = Fastify();
  t.after(() => app.close());
  const probes = firstHeartbeat();
  app.addHook('onResponse', async (request, reply) => probes.record(request.url, reply.statusCode));
  await app.register(rosterFastify, { service, requires, ...reach, logger: recordingLogger() });
  app.get('/hello', async () => ({ from: service }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, heard: probes.heard };
}

test('fastify: the plugin registers on listen, learns its provider, passes probes and deregisters on close', BOUNDED, async (t) => {
  const reach = await registry(t);
  const provider = await fastifyApp(t, 'Provider', [], reach);
  const dependent = await fastifyApp(t, 'Dependent', ['Provider'], reach);
  await dependent.app.roster.waitFor(['Provider']);
  assert.equal(dependent.app.roster.provider('Provider'), provider.app.roster.options.url);
  assert.equal(await provider.heard, 200, 'a signed probe is answered 200');
  assert.equal(await forgedPatch(dependent.app.roster.options.url), 401, 'an unsigned patch is refused');
  assert.deepEqual(dependent.app.roster.providers('Provider'), [provider.app.roster.options.url]);
  const hello = await fetch(`${dependent.app.roster.provider('Provider')}/hello`);
  assert.deepEqual(await hello.json(), { from: 'Provider' });

  const changed = once(dependent.app.roster, 'change') as Promise<[ChangeEvent]>;
  await provider.app.close();
  const [change] = await changed;
  assert.deepEqual(change.removed, [provider.app.roster.options.url]);
});

test('fastify: app.roster before the app listens says why it is not there', async () => {
  const app = Fastify();
  await app.register(rosterFastify, { service: 'Early', registryUrl: 'http://127.0.0.1:1', token: 't' });
  assert.throws(() => app.roster, { code: 'CLIENT_CLOSED', message: /does not listen yet/ });
  await app.close();
});

async function expressApp(t: TestContext, service: string, requires: string[], reach: { registryUrl: string; token: string }) {
  const roster = rosterExpress({ service, requires, ...reach, logger: recordingLogger() });
  const probes = firstHeartbeat();
  const app = express();
  app.use((req, res, next) => {
    res.on('finish', () => probes.record(req.url, res.statusCode));
    next();
  });
  app.use(roster.middleware);
  app.use(express.json());
  app.get('/hello', (_req, res) => void res.json({ from: service }));
  const server: Server = roster.attach(app.listen(0, '127.0.0.1'));
  t.after(async () => {
    await roster.stop();
    server.close();
  });
  await once(server, 'listening');
  return { roster, server, heard: probes.heard };
}

test('express: the middleware answers inside the app, attach() registers on listening and stop() deregisters', BOUNDED, async (t) => {
  const reach = await registry(t);
  const provider = await expressApp(t, 'Provider', [], reach);
  const dependent = await expressApp(t, 'Dependent', ['Provider'], reach);
  await dependent.roster.client.waitFor(['Provider']);
  assert.equal(dependent.roster.client.provider('Provider'), provider.roster.client.options.url);
  assert.equal(await provider.heard, 200, 'a signed probe is answered 200');
  assert.equal(await forgedPatch(dependent.roster.client.options.url), 401, 'an unsigned patch is refused before express.json()');
  const hello = await fetch(`${dependent.roster.client.provider('Provider')}/hello`);
  assert.deepEqual(await hello.json(), { from: 'Provider' });

  const changed = once(dependent.roster.client, 'change') as Promise<[ChangeEvent]>;
  await provider.roster.stop();
  const [change] = await changed;
  assert.deepEqual(change.removed, [provider.roster.client.options.url]);
});

test('importing the client and both integrations loads neither framework', async () => {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const script = `
    import { createRequire } from 'node:module';
    await import('./src/client/index.ts');
    await import('./src/client/integrations/fastify.ts');
    await import('./src/client/integrations/express.ts');
    const cache = Object.keys(createRequire(import.meta.url).cache);
    console.log(cache.filter((file) => /node_modules[\\\\/](fastify|express)[\\\\/]/.test(file)).length);`;
  const root = new URL('../../', import.meta.url);
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root });
  assert.equal(stdout.trim(), '0');
});
