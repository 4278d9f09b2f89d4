// SIGHUP (the terminal a command ran in was closed) stops every long-running `roster` command as
// SIGTERM does: services deregister, the registry closes, a watch ends, and each exits 0.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { NodeProcess, ROSTER_CLI, bearer, freePort, scratchDir, startRegistryProcess, type RegistryProcess } from '../helpers/processes.js';

const BOUNDED = { timeout: 90_000 };

async function hangUp(run: NodeProcess): Promise<void> {
  run.kill('SIGHUP');
  const [code, signal] = await run.exited;
  assert.equal(signal, null, `ended by ${signal}, not by its own exit:\n${run.output}`);
  assert.equal(code, 0, run.output);
}

async function instanceUrls(registry: RegistryProcess, service: string): Promise<string[]> {
  const response = await fetch(`${registry.url}/v1/services/${service}`, { headers: bearer(registry.adminToken) });
  if (response.status === 404) return [];
  const body = (await response.json()) as { service: { instances: Array<{ url: string }> } };
  return body.service.instances.map((i) => i.url);
}

/** `roster log` against `registry`, once registered: its URL from the "listening" line. */
async function startLogService(t: TestContext, registry: RegistryProcess): Promise<{ run: NodeProcess; url: string }> {
  const run = new NodeProcess(t, [ROSTER_CLI, 'log', '--host', '127.0.0.1', '--port', '0', '--registry', registry.url, '--data-dir', scratchDir(t)], {
    ROSTER_LOG_FORMAT: 'json',
    ROSTER_TOKEN: registry.adminToken,
  });
  const prefix = 'LogService listening on ';
  const listening = await run.waitForEvent((e) => typeof e.msg === 'string' && e.msg.startsWith(prefix));
  return { run, url: String(listening.msg).slice(prefix.length) };
}

test('roster registry: SIGHUP closes it and it exits 0', BOUNDED, async (t) => {
  const registry = await startRegistryProcess(t);
  const seen = registry.process.lines.length;
  await hangUp(registry.process);
  assert.ok(registry.process.events.slice(seen).some((e) => e.msg === 'SIGHUP received: shutting down'), registry.process.output);
});

test('roster log (a service command): SIGHUP deregisters it before it exits 0', BOUNDED, async (t) => {
  const registry = await startRegistryProcess(t);
  const log = await startLogService(t, registry);
  assert.deepEqual(await instanceUrls(registry, 'LogService'), [log.url]);

  await hangUp(log.run);

  assert.deepEqual(await instanceUrls(registry, 'LogService'), [], 'deregistered, not left to turn critical');
});

test('roster watch: SIGHUP ends the watch and it exits 0', BOUNDED, async (t) => {
  const registry = await startRegistryProcess(t);
  const watch = new NodeProcess(t, [ROSTER_CLI, 'watch', '--registry', registry.url, '--token', registry.adminToken]);
  await watch.waitForLine(/snapshot/);
  await hangUp(watch);
});

test('roster up: SIGHUP stops every part, then it exits 0', { timeout: 120_000 }, async (t) => {
  const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const [registry, log, grading, portal] = ports.map(String) as [string, string, string, string];
  const up = new NodeProcess(t, [
    ROSTER_CLI, 'up', '--host', '127.0.0.1', '--data-dir', scratchDir(t),
    '--registry-port', registry, '--log-port', log, '--grading-port', grading, '--portal-port', portal,
  ], { ROSTER_TOKEN: '', ROSTER_ADMIN_TOKEN: '' });
  await up.waitForLine(/all parts are up/);

  await hangUp(up);

  // It waited for each part to exit (services first, each deregistering as on SIGTERM): nothing listens any more.
  for (const port of ports) await assert.rejects(fetch(`http://127.0.0.1:${port}/`), `port ${port} still answers`);
});
