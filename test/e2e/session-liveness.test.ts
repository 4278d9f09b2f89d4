// Session liveness with real processes: an instance whose client holds a session stream is
// noticed when its process dies (SIGKILL) or hangs (SIGSTOP), and its dependents are told.
// How soon is the session tracker's business, tested on a fake clock (test/registry/health).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startRegistry } from '../../src/registry/start-registry.js';
import { startService } from '../../src/service/index.js';
import { NodeProcess } from '../helpers/processes.js';

const SESSION_SERVICE = fileURLToPath(new URL('../fixtures/session-service.ts', import.meta.url));

async function setup(t: TestContext) {
  const running = await startRegistry({ host: '127.0.0.1', port: 0, store: 'memory', course: { enabled: false } });
  const token = running.adminToken ?? undefined;
  const victim = new NodeProcess(t, [SESSION_SERVICE], { SERVICE_NAME: 'Victim', ROSTER_REGISTRY_URL: running.url, ROSTER_TOKEN: token ?? '' });
  const ready = await victim.waitForEvent((event) => event.event === 'ready');
  const url = String(ready.url);
  const dependent = await startService({ name: 'Dependent', host: '127.0.0.1', requires: ['Victim'], registryUrl: running.url, token, handleSignals: false, handler: (_req, res) => void res.end() });
  // The dependent first, while the registry can still hear it deregister.
  t.after(async () => {
    await dependent.close();
    await running.close();
  });
  assert.deepEqual(dependent.client.providers('Victim'), [url]);
  assert.equal(running.registry.instance(running.registry.instances().find((i) => i.url === url)!.id).liveness, 'session');
  return { running, victim, url, dependent };
}

/** Resolves when `client` hears that `url` of `service` was removed. */
function toldRemoved(client: NodeJS.EventEmitter, service: string, url: string): Promise<void> {
  return new Promise((resolve) => {
    const listener = (change: { service: string; removed: string[] }) => {
      if (change.service !== service || !change.removed.includes(url)) return;
      client.off('change', listener);
      resolve();
    };
    client.on('change', listener);
  });
}

test('SIGKILL of a session instance: its dependent is told it was removed', { timeout: 30_000 }, async (t) => {
  const { running, victim, url, dependent } = await setup(t);
  const told = toldRemoved(dependent.client, 'Victim', url);
  victim.kill('SIGKILL');
  await told;
  assert.deepEqual(dependent.client.providers('Victim'), []);
  const record = running.registry.instances().find((i) => i.url === url);
  assert.equal(record?.health, 'critical');
  assert.match(record?.lastError ?? '', /session closed|no new session/);
});

test('SIGSTOP of a session instance: its dependent is told, and SIGCONT brings it back', { timeout: 30_000 }, async (t) => {
  const { running, victim, url, dependent } = await setup(t);
  const told = toldRemoved(dependent.client, 'Victim', url);
  victim.child.kill('SIGSTOP');
  t.after(() => victim.child.kill('SIGCONT'));
  await told;
  const record = running.registry.instances().find((i) => i.url === url);
  assert.equal(record?.health, 'critical');
  assert.match(record?.lastError ?? '', /no ping answered|stopped taking pings/);
  // Awake again, its client opens a new session and the dependent is told it is back.
  const back = new Promise<void>((resolve) => {
    const listener = (change: { service: string; added: string[] }) => {
      if (change.service === 'Victim' && change.added.includes(url)) resolve();
    };
    dependent.client.on('change', listener);
  });
  victim.child.kill('SIGCONT');
  await back;
  victim.kill('SIGTERM');
  await once(victim.child, 'exit');
});
