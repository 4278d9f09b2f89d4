// registeredOrWaiting, shared by startService and the framework integrations: a mounted client
// whose registry is down starts at once, and a refusal that comes once the registry is up is
// logged as startService logs it; the app serves on, unregistered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MountedClient } from '../../src/client/integrations/mount.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { FakeRegistry } from '../helpers/fake-registry.js';
import { watchedLogger } from '../helpers/watched-logger.js';

/** The first wait is 500 ms ± 20 %. */
const FIRST_WAIT_MAX_MS = 600;

test('a mounted client: starts while the registry is down; a later refusal is logged and nothing more is tried', async (t) => {
  const registry = await FakeRegistry.start();
  t.after(() => registry.stop());
  await registry.stop();
  registry.intercept = (r) => (r.method === 'POST' && r.path === '/v1/instances' ? { status: 401, body: { code: 'UNAUTHORIZED', message: 'this registry needs a token' } } : undefined);
  const clock = new FakeClock();
  registry.now = () => clock.now();
  const logger = watchedLogger();
  const mounted = new MountedClient({ service: 'GradingService', registryUrl: registry.url, clock, logger });
  t.after(() => mounted.stop());

  await mounted.start({ address: '127.0.0.1', family: 'IPv4', port: 4100 });
  await registry.listen();
  await clock.tick(FIRST_WAIT_MAX_MS);
  await logger.untilLogged('error', 'GradingService could not register at http://127.0.0.1:4100: this registry needs a token; it serves on, unregistered');
  assert.equal(clock.pending, 0, 'no retry for what waiting cannot fix');
});
