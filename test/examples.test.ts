// The README's walk-through, run as a user would: a registry, then examples/greeter.mjs and
// examples/caller.mjs as separate processes importing the built package, each given the
// registry's admin token as ROSTER_TOKEN (the client's default), as the README tells a user to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { NodeProcess, freePort, startRegistryProcess } from './helpers/processes.js';

const example = (name: string) => fileURLToPath(new URL(`../examples/${name}`, import.meta.url));

/** Runs a plain-JS example with node (no tsx: it imports the built package, as a user's code would). */
const runExample = (t: import('node:test').TestContext, name: string, env: Record<string, string>) =>
  new NodeProcess(t, [example(name)], env, { tsx: false });

test('README walk-through: Caller hears of Greeter coming and going', { timeout: 60_000 }, async (t) => {
  const registry = await startRegistryProcess(t, ['--health-interval', '300', '--health-retry-delay', '100', '--health-attempts', '2']);
  const env = { ROSTER_REGISTRY_URL: registry.url, ROSTER_HOST: '127.0.0.1', ROSTER_TOKEN: registry.adminToken };
  const greeterPort = await freePort();
  const greeter = runExample(t, 'greeter.mjs', { ...env, ROSTER_PORT: String(greeterPort) });
  await greeter.waitForLine(/^Greeter is at /);
  const caller = runExample(t, 'caller.mjs', { ...env, ROSTER_PORT: '0' });
  const ready = await caller.waitForLine(/^Caller is at /);
  assert.match(ready, new RegExp(`Greeter instances known: \\["http://127.0.0.1:${greeterPort}"\\]`));

  const callerUrl = /Caller is at (\S+);/.exec(ready)![1]!;
  assert.equal(await (await fetch(callerUrl)).text(), 'Greeter said: hello from Greeter\n');

  greeter.child.kill('SIGKILL');
  await caller.waitForLine(new RegExp(`Caller heard: Greeter removed at http://127.0.0.1:${greeterPort}`));
  const unavailable = await fetch(callerUrl);
  assert.equal(unavailable.status, 503);
  assert.match(await unavailable.text(), /no instance of service "Greeter" is available/);

  const again = runExample(t, 'greeter.mjs', { ...env, ROSTER_PORT: String(greeterPort) });
  await again.waitForLine(/^Greeter is at /);
  await caller.waitForLine(new RegExp(`Caller heard: Greeter added at http://127.0.0.1:${greeterPort}`));

  again.child.kill('SIGINT');
  assert.deepEqual(await once(again.child, 'exit'), [0, null]);
  await caller.waitForLine(/Caller heard: Greeter removed at .* \(revision \d+\)/);
});
