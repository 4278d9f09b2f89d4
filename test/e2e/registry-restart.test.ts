// The embedded SQLite store: a registry killed with SIGKILL and started again remembers its
// instances, continues its revisions, resumes health checks and delivers what it owed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { ROSTER_CLI, NodeProcess, bearer, freePort, readAdminToken, scratchDir } from '../helpers/processes.js';
import { RecordingService } from '../helpers/recording-service.js';

async function startRegistry(t: import('node:test').TestContext, port: number, dataDir: string): Promise<NodeProcess> {
  const registry = new NodeProcess(t, [
    ROSTER_CLI, 'registry', '--host', '127.0.0.1', '--port', String(port), '--store', 'sqlite', '--data-dir', dataDir,
    '--health-interval', '300', '--health-retry-delay', '100', '--health-attempts', '2',
  ]);
  await registry.waitForEvent((e) => typeof e.msg === 'string' && e.msg.startsWith('registry listening'));
  return registry;
}

async function courseRegister(registryUrl: string, registration: object): Promise<number> {
  const response = await request(`${registryUrl}/services`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(registration) });
  await response.body.dump();
  return response.statusCode;
}

async function state(registryUrl: string, token: string): Promise<{ revision: number; instances: Array<{ service: string; url: string }> }> {
  return (await (await fetch(`${registryUrl}/v1/state`, { headers: bearer(token) })).json()) as never;
}

test('SIGKILL and restart: instances, revisions, health checks and undelivered patches survive', { timeout: 60_000 }, async (t) => {
  const dataDir = scratchDir(t, 'roster-restart-');
  const port = await freePort();
  const registryUrl = `http://127.0.0.1:${port}`;
  const [grading, logA, logB] = await Promise.all([RecordingService.start(), RecordingService.start(), RecordingService.start()]);
  t.after(() => Promise.all([grading.close(), logA.close(), logB.close()]));

  let registry = await startRegistry(t, port, dataDir);
  const token = readAdminToken(dataDir);
  grading.update = 500; // the dependent cannot take patches for now: they wait in the outbox
  assert.equal(await courseRegister(registryUrl, grading.registration('GradingService', ['LogService'])), 200);
  assert.equal(await courseRegister(registryUrl, logA.registration('LogService')), 200);
  assert.equal(await courseRegister(registryUrl, logB.registration('LogService')), 200);
  const before = await state(registryUrl, token);
  assert.equal(before.instances.length, 3);

  registry.kill('SIGKILL');
  await registry.exited;
  grading.update = 200;
  const heartbeatsBefore = logA.requests.filter((r) => r.path === '/heartbeat').length;

  registry = await startRegistry(t, port, dataDir);
  assert.equal(readAdminToken(dataDir), token, 'a restart keeps the admin token');
  const after = await state(registryUrl, token);
  assert.deepEqual(after.instances.map((i) => i.url).sort(), before.instances.map((i) => i.url).sort());
  assert.equal(after.revision, before.revision);

  // The patches owed to the dependent arrive, in order, with the revisions they had.
  await grading.waitFor((s) => s.patches.filter((p) => p.Added.length > 0).length >= 2);
  const added = grading.patches.filter((p) => p.Added.length > 0);
  assert.deepEqual(added.map((p) => p.Added.map((e) => e.URL)), [[logA.url], [logB.url]]);
  assert.deepEqual(added.map((p) => p.Revision), [2, 3]);
  assert.deepEqual(grading.patches.map((p) => p.Revision), [...grading.patches.map((p) => p.Revision)].sort((a, b) => a! - b!));

  // Health checks resume at once.
  await logA.waitFor((s) => s.requests.filter((r) => r.path === '/heartbeat').length > heartbeatsBefore);

  // Revisions continue upward: never reused.
  const logC = await RecordingService.start();
  t.after(() => logC.close());
  assert.equal(await courseRegister(registryUrl, logC.registration('LogService')), 200);
  assert.ok((await state(registryUrl, token)).revision > before.revision);
});
