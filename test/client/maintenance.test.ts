// client.maintenance(): a service takes itself out of rotation before a deploy and puts itself
// back, against a real registry; a dependent that watches sees it go and come back.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { RegistryClient, type ChangeEvent } from '../../src/client/index.js';
import { startRegistry } from '../../src/registry/start-registry.js';
import { startService } from '../../src/service/index.js';

const BOUNDED = { timeout: 20_000 };

async function setup(t: TestContext) {
  const server = await startRegistry({ host: '127.0.0.1', port: 0, health: { intervalMs: 60_000 } });
  t.after(() => server.close());
  const common = { registryUrl: server.url, token: server.adminToken as string, heartbeatUrl: null, ttlMs: 600_000 };
  const log = new RegistryClient({ ...common, service: 'Log', url: 'http://127.0.0.1:4100' });
  const app = new RegistryClient({ ...common, service: 'App', url: 'http://127.0.0.1:4200', requires: ['Log'], notifications: 'watch' });
  t.after(() => Promise.all([log.close(), app.close()]));
  await log.register();
  await app.register();
  await app.waitFor(['Log']);
  return { server, log, app };
}

/** The next change the client reports for `service`. */
async function nextChange(client: RegistryClient, service: string): Promise<ChangeEvent> {
  for (;;) {
    const [change] = (await once(client, 'change')) as [ChangeEvent];
    if (change.service === service) return change;
  }
}

test('maintenance(true) takes the instance out of its dependents\' view, re-registering keeps it out, maintenance(false) puts it back', BOUNDED, async (t) => {
  const { server, log, app } = await setup(t);
  const gone = nextChange(app, 'Log');
  const view = await log.maintenance(true, { reason: 'deploy 2.0', drainMs: 0 });
  assert.deepEqual([view.maintenance?.reason, view.maintenance?.scope, view.maintenance?.by], ['deploy 2.0', 'instance', 'admin']);
  assert.deepEqual((await gone).removed, ['http://127.0.0.1:4100']);
  assert.deepEqual(app.providers('Log'), []);

  await server.registry.register({ service: 'Log', url: 'http://127.0.0.1:4100', requires: [], updateUrl: null, heartbeatUrl: null, ttlMs: 600_000, metadata: {}, protocol: 'v1', owner: 'admin' });
  assert.equal(server.registry.instances().find((i) => i.service === 'Log')?.maintenance?.reason, 'deploy 2.0');

  const back = nextChange(app, 'Log');
  const ended = await log.maintenance(false);
  assert.equal(ended.maintenance, null);
  assert.deepEqual((await back).added, ['http://127.0.0.1:4100']);
  assert.deepEqual(app.providers('Log'), ['http://127.0.0.1:4100']);
});

test("startService's handle puts the service's instance in maintenance and takes it out", BOUNDED, async (t) => {
  const server = await startRegistry({ host: '127.0.0.1', port: 0, health: { intervalMs: 60_000 } });
  t.after(() => server.close());
  const quiet = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };
  const service = await startService({ name: 'Log', host: '127.0.0.1', registryUrl: server.url, token: server.adminToken as string, handleSignals: false, logger: quiet });
  t.after(() => service.close());
  assert.equal((await service.maintenance(true, { reason: 'deploy' })).maintenance?.reason, 'deploy');
  assert.equal(server.registry.instance(service.client.id).maintenance?.reason, 'deploy');
  assert.equal((await service.maintenance(false)).maintenance, null);
});
