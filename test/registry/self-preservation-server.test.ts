// Self-preservation over real sockets: every heartbeat fails at once, as when the registry loses
// its network; dependents keep their providers, /v1/health and /metrics say so, and it ends when
// the heartbeats come back. Waits for events and patches, never for time.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { startRegistry, type RunningRegistry } from '../../src/registry/start-registry.js';
import type { RegistryHealthResponse } from '../../src/protocol/v1.js';
import type { SelfPreservationState } from '../../src/registry/health/self-preservation.js';
import { RecordingService } from '../helpers/recording-service.js';

async function service(t: TestContext): Promise<RecordingService> {
  const recording = await RecordingService.start();
  t.after(() => recording.close());
  return recording;
}

async function register(registry: RunningRegistry, registration: object): Promise<void> {
  const response = await fetch(`${registry.url}/services`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(registration) });
  assert.equal(response.status, 200, await response.text());
}

async function health(registry: RunningRegistry): Promise<RegistryHealthResponse> {
  return (await (await fetch(`${registry.url}/v1/health`)).json()) as RegistryHealthResponse;
}

async function metric(registry: RunningRegistry, name: string): Promise<number> {
  const text = await (await fetch(`${registry.url}/metrics`, { headers: { authorization: `Bearer ${registry.adminToken}` } })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `${name} is exported`);
  return Number(line.split(' ')[1]);
}

/** The providers `dependent` sees after applying every patch it received, in order. */
function view(dependent: RecordingService): string[] {
  const urls = new Set<string>();
  for (const patch of dependent.patches) {
    for (const { URL } of patch.Removed) urls.delete(URL);
    for (const { URL } of patch.Added) urls.add(URL);
  }
  return [...urls].sort();
}

/** Resolves once every patch queued so far is delivered. */
async function drained(registry: RunningRegistry): Promise<void> {
  while (registry.registry.notificationQueues().size > 0) await once(registry.registry, 'notification');
}

function nextState(registry: RunningRegistry): Promise<SelfPreservationState> {
  return once(registry.registry, 'selfPreservation').then(([state]) => state as SelfPreservationState);
}

test('every heartbeat failing at once: dependents keep their providers until the heartbeats come back', async (t) => {
  const registry = await startRegistry({
    host: '127.0.0.1',
    port: 0,
    // Short rounds so that the test is quick; the window spans several, so that the wave lands in it.
    health: { intervalMs: 200, attempts: 1, timeoutMs: 1000 },
    selfPreservation: { windowMs: 5000 },
  });
  t.after(() => registry.close());
  const apis = await Promise.all([1, 2, 3, 4].map(() => service(t)));
  const app = await service(t);
  for (const api of apis) await register(registry, api.registration('api'));
  await register(registry, app.registration('app', ['api']));
  const everyApi = apis.map((api) => api.url).sort();
  assert.deepEqual(view(app), everyApi);
  assert.deepEqual((await health(registry)).selfPreservation, { active: false, since: null, reason: null });

  const started = nextState(registry);
  for (const part of [...apis, app]) part.heartbeat = 503;
  const state = await started;
  assert.equal(state.active, true);
  await drained(registry);
  assert.deepEqual(view(app), everyApi, 'the dependent still sees every provider');
  const removals = app.patches.flatMap((patch) => patch.Removed);
  assert.ok(removals.length <= 2, `at most the instances that failed before the threshold was crossed are told Removed (and then Added again): ${removals.length}`);

  const said = await health(registry);
  assert.equal(said.selfPreservation?.active, true);
  assert.match(said.selfPreservation?.reason ?? '', /turned critical within 5000 ms/);
  assert.equal(typeof said.selfPreservation?.since, 'string');
  assert.equal(await metric(registry, 'roster_self_preservation_active'), 1);
  assert.equal(await metric(registry, 'roster_self_preservation_activations_total'), 1);

  const ended = nextState(registry);
  for (const part of [...apis, app]) part.heartbeat = 200;
  assert.equal((await ended).active, false);
  await drained(registry);
  assert.deepEqual(view(app), everyApi);
  assert.deepEqual((await health(registry)).selfPreservation, { active: false, since: null, reason: null });
  assert.equal(await metric(registry, 'roster_self_preservation_active'), 0);
});
