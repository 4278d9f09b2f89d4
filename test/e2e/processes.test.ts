// A registry and three services as separate processes on loopback: what each hears when
// another is killed, restarted or stopped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { NodeProcess, bearer, freePort, startRegistryProcess } from '../helpers/processes.js';

const DEMO = fileURLToPath(new URL('../fixtures/demo-service.ts', import.meta.url));
// Short health settings so that a dead instance is noticed soon. How soon is the health
// checker's business, tested on a fake clock (test/registry/health); here only what is told.
const HEALTH = { interval: 400, timeout: 300, attempts: 2, retryDelay: 200 };

const isChange = (service: string, kind: 'added' | 'removed', url: string) => (event: Record<string, unknown>) =>
  event.event === 'change' && event.service === service && (event[kind] as string[]).includes(url);

test('kill -9, restart and SIGTERM: dependents hear of each', { timeout: 60_000 }, async (t) => {
  const registry = await startRegistryProcess(t, [
    '--health-interval', String(HEALTH.interval),
    '--health-timeout', String(HEALTH.timeout),
    '--health-attempts', String(HEALTH.attempts),
    '--health-retry-delay', String(HEALTH.retryDelay),
  ]);
  const env = (name: string, requires: string[], port = 0) => ({
    SERVICE_NAME: name,
    REQUIRES: requires.join(','),
    ROSTER_PORT: String(port),
    ROSTER_REGISTRY_URL: registry.url,
    ROSTER_TOKEN: registry.adminToken,
  });
  const alphaPort = await freePort();
  const start = async (name: string, requires: string[], port = 0) => {
    const service = new NodeProcess(t, [DEMO], env(name, requires, port));
    const ready = await service.waitForEvent((e) => e.event === 'ready');
    return { service, url: String(ready.url), ready };
  };

  const alpha = await start('Alpha', [], alphaPort);
  const beta = await start('Beta', ['Alpha']);
  const gamma = await start('Gamma', ['Alpha', 'Beta']);
  assert.deepEqual(beta.ready.providers, { Alpha: [alpha.url] });
  assert.deepEqual(gamma.ready.providers, { Alpha: [alpha.url], Beta: [beta.url] });

  // kill -9: no chance to deregister; the health checks must notice, mark the instance critical
  // (with the probe's failure as the reason), and tell the dependents it is gone.
  const registrySeen = registry.process.events.length;
  alpha.service.kill('SIGKILL');
  await Promise.all([
    beta.service.waitForEvent(isChange('Alpha', 'removed', alpha.url)),
    gamma.service.waitForEvent(isChange('Alpha', 'removed', alpha.url)),
  ]);
  const critical = await registry.process.waitForEvent((e) => e.msg === 'instance is critical' && e.url === alpha.url, registrySeen);
  assert.equal(critical.service, 'Alpha');
  assert.match(String(critical.reason), /connection refused|connection reset|timed out/);
  const deregistered = registry.process.events.slice(registrySeen).filter((e) => e.msg === 'instance deregistered');
  assert.deepEqual(deregistered, [], 'a dead instance is marked critical, not deregistered, by the health checks');

  // Restarted at the same URL: told again.
  const betaSeen = beta.service.events.length;
  const gammaSeen = gamma.service.events.length;
  const alphaAgain = await start('Alpha', [], alphaPort);
  assert.equal(alphaAgain.url, alpha.url);
  await Promise.all([
    beta.service.waitForEvent(isChange('Alpha', 'added', alpha.url), betaSeen),
    gamma.service.waitForEvent(isChange('Alpha', 'added', alpha.url), gammaSeen),
  ]);
  // Each dependent was told, in this order: Alpha added (at start), removed once, added again.
  const alphaChanges = (service: NodeProcess) =>
    service.events.flatMap((e) => (e.event === 'change' && e.service === 'Alpha' ? [(e.removed as string[]).includes(alpha.url) ? 'removed' : 'added'] : []));
  assert.deepEqual(alphaChanges(beta.service).slice(-2), ['removed', 'added']);
  assert.deepEqual(alphaChanges(gamma.service).slice(-2), ['removed', 'added']);

  // SIGTERM: deregistered before the process has exited.
  beta.service.kill('SIGTERM');
  const [code] = await beta.service.exited;
  assert.equal(code, 0, beta.service.output);
  const lookup = await fetch(`${registry.url}/v1/services/Beta`, { headers: bearer(registry.adminToken) });
  // Gamma still requires Beta: the service is known, with no instance left.
  assert.equal(lookup.status, 200);
  assert.deepEqual(((await lookup.json()) as { service: { instances: unknown[] } }).service.instances, []);
  await gamma.service.waitForEvent(isChange('Beta', 'removed', beta.url));
});
