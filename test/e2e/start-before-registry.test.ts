// Services started before their registry, as separate processes: they listen and serve at once,
// wait for the registry, and register when `roster registry` comes up on the address they were
// given; a dependent is told where its provider is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { NodeProcess, ROSTER_CLI, bearer, freePort, scratchDir } from '../helpers/processes.js';

const EARLY = fileURLToPath(new URL('../fixtures/early-service.ts', import.meta.url));

test('a provider and a dependent start before the registry; once it is up, both register and the dependent is told', { timeout: 120_000 }, async (t) => {
  const port = await freePort();
  const registryUrl = `http://127.0.0.1:${port}`;
  // The registry makes its own admin token on first start; this one is known to the services in advance.
  const token = randomBytes(24).toString('hex');
  const start = async (name: string, requires: string[]) => {
    const service = new NodeProcess(t, [EARLY], { SERVICE_NAME: name, REQUIRES: requires.join(','), ROSTER_PORT: '0', ROSTER_REGISTRY_URL: registryUrl, ROSTER_TOKEN: token });
    const ready = await service.waitForEvent((e) => e.event === 'ready');
    return { service, url: String(ready.url), ready };
  };

  const alpha = await start('Alpha', []);
  const beta = await start('Beta', ['Alpha']);
  for (const { ready } of [alpha, beta]) assert.deepEqual([ready.registered, ready.waiting], [false, true], 'started, waiting for the registry');
  // Both serve while they wait.
  assert.equal(await (await fetch(alpha.url)).text(), 'early');
  assert.equal(await (await fetch(beta.url)).text(), 'early');

  const registry = new NodeProcess(t, [ROSTER_CLI, 'registry', '--host', '127.0.0.1', '--port', String(port), '--store', 'memory', '--data-dir', scratchDir(t)], {
    ROSTER_ADMIN_TOKEN: token,
  });
  await registry.waitForEvent((e) => e.msg === `registry listening on ${registryUrl}`);

  // Told, whichever registered first: in its registration's answer, or by a patch.
  await beta.service.waitForEvent((e) => e.event === 'change' && e.service === 'Alpha' && (e.added as string[]).includes(alpha.url));
  const response = await fetch(`${registryUrl}/v1/services/Alpha`, { headers: bearer(token) });
  assert.equal(response.status, 200);
  const body = (await response.json()) as { service: { instances: Array<{ url: string }> } };
  assert.deepEqual(body.service.instances.map((i) => i.url), [alpha.url]);
  // Each said what it waited for, naming the registry.
  for (const { service } of [alpha, beta]) assert.match(service.output, new RegExp(`waiting for the registry \\(${registryUrl}\\): attempt 2 in \\d+ ms`));
});
