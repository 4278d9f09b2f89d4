import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type StdioOptions } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { FakeRegistry } from '../helpers/fake-registry.js';

const fixture = fileURLToPath(new URL('../fixtures/signal-service.ts', import.meta.url));

async function runUntilSignal(t: TestContext, stdin: 'ignore' | 'closed', signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const registry = await FakeRegistry.start();
  t.after(() => registry.stop());
  const stdio: StdioOptions = [stdin === 'ignore' ? 'ignore' : 'pipe', 'pipe', 'pipe'];
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], { stdio, env: { ...process.env, ROSTER_REGISTRY_URL: registry.url } });
  t.after(() => child.exitCode === null && child.kill('SIGKILL'));
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  // End of input must not stop the service (the course's services quit on it).
  if (stdin === 'closed') child.stdin?.end();
  const exited = once(child, 'exit');

  const lines = createInterface({ input: child.stdout! });
  const [line] = (await Promise.race([once(lines, 'line'), exited.then(() => assert.fail(`child exited early: ${stderr}`))])) as [string];
  const later: string[] = [];
  lines.on('line', (text) => later.push(text));
  const stdoutEnded = once(lines, 'close');
  const { url, id } = JSON.parse(line) as { url: string; id: string };
  assert.equal(await registry.probe(`${url}/heartbeat`), 200);

  child.kill(signal);
  const [code, killedBy] = await exited;

  assert.equal(killedBy, null, stderr);
  assert.equal(code, 0, stderr);
  assert.equal(registry.count((r) => r.method === 'DELETE' && r.path === `/v1/instances/${id}`), 1);
  await stdoutEnded;
  assert.deepEqual(later, ['onShutdown done'], 'onShutdown ran before the exit');
}

test('SIGTERM: the service deregisters, runs onShutdown and exits 0 (stdin ignored)', (t) => runUntilSignal(t, 'ignore'));

test('SIGTERM: the service deregisters, runs onShutdown and exits 0 (stdin closed at once)', (t) => runUntilSignal(t, 'closed'));

// The terminal the service ran in was closed: the same clean exit, not a critical instance left behind.
test('SIGHUP: the service deregisters, runs onShutdown and exits 0, as on SIGTERM', (t) => runUntilSignal(t, 'ignore', 'SIGHUP'));
