// A registry and three services as separate processes on loopback: what each hears when
// another is killed, restarted or stopped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { NodeProcess, bearer, freePort, startRegistryProcess } from '../helpers/processes.js';

const DEMO = fileURLToPath(new URL('../fixtures/demo-service.ts', import.meta.url));
const HEALTH = { interval: 400, timeout: 300, attempts: 2, retryDelay: 200 };
/** The longest a dead instance may go unnoticed: an interval (jitter only shortens it), then every attempt timing out. */
const DETECTION_BOUND_MS = HEALTH.interval + HEALTH.attempts * HEALTH.timeout + (HEALTH.attempts - 1) * HEALTH.retryDelay;
/** Room for process scheduling on a loaded machine; the bound itself is what the registry promises. */
const SLACK_MS = 2000;

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

  // kill -9: no chance to deregister; the health checks must notice.
  const killedAt = Date.now();
  alpha.service.kill('SIGKILL');
  await Promise.all([
    beta.service.waitForEvent(isChange('Alpha', 'removed', alpha.url)),
    gamma.service.waitForEvent(isChange('Alpha', 'removed', alpha.url)),
  ]);
  const detectedInMs = Date.now() - killedAt;
  assert.ok(detectedInMs <= DETECTION_BOUND_MS + SLACK_MS, `dependents heard of the dead instance after ${detectedInMs} ms`);

  // Restarted at the same URL: told again.
  const betaSeen = beta.service.events.length;
  const gammaSeen = gamma.service.events.length;
  const alphaAgain = await start('Alpha', [], alphaPort);
  assert.equal(alphaAgain.url, alpha.url);
  await Promise.all([
    beta.service.waitForEvent(isChange('Alpha', 'added', alpha.url), betaSeen),
    gamma.service.waitForEvent(isChange('Alpha', 'added', alpha.url), gammaSeen),
  ]);

  // SIGTERM: deregistered before the process has exited.
  beta.service.kill('SIGTERM');
  const [code] = await beta.service.exited;
  assert.equal(code, 0, beta.service.output);
  const lookup = await fetch(`${registry.url}/v1/services/Beta`, { headers: bearer(registry.adminToken) });
  assert.equal(lookup.status, 404);
  await lookup.arrayBuffer();
  await gamma.service.waitForEvent(isChange('Beta', 'removed', beta.url));
});
