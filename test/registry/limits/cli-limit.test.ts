// `roster registry --limit NAME=VALUE` (repeatable) sets limits as startRegistry's `limits` does;
// a name that is no limit, or a value that is no whole number ≥ 1, stops it as any bad flag does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeProcess, ROSTER_CLI, startRegistryProcess } from '../../helpers/processes.js';
import { call, v1Body } from './limits-registry.js';

test('--limit sets a limit of the registry it starts; the flag may be repeated', async (t) => {
  const { url, adminToken } = await startRegistryProcess(t, ['--limit', 'maxInstances=1', '--limit', 'writesPerWindow=50']);
  assert.equal((await call(url, 'POST', '/v1/instances', { token: adminToken, body: v1Body('Greeter', 7001) })).status, 201);
  const refused = await call(url, 'POST', '/v1/instances', { token: adminToken, body: v1Body('Greeter', 7002) });
  assert.equal(refused.status, 429);
  assert.match(refused.json.message ?? '', /the limit "maxInstances" \(1\)/);
});

test('--limit with an unknown name or a bad value stops the command, listing the limits', async (t) => {
  for (const [flag, message] of [['maxInstanzes=5', /one of: maxInstances, maxInstancesPerService/], ['maxInstances=0', /a whole number ≥ 1/]] as const) {
    const registry = new NodeProcess(t, [ROSTER_CLI, 'registry', '--store', 'memory', '--port', '0', '--limit', flag]);
    const [code] = await registry.exited;
    assert.notEqual(code, 0, registry.output);
    assert.match(registry.output, message);
  }
});
