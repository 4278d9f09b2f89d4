// `roster maint <url|service> on|off`: in-process for what it prints, and the built command as a
// real process for what a script sees.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { lsCommand } from '../../src/cli/commands/ls.js';
import { maintCommand } from '../../src/cli/commands/maint.js';
import type { CliIo } from '../../src/cli/registry-api.js';
import type { Registration } from '../../src/registry/catalog.js';
import { startRegistry } from '../../src/registry/start-registry.js';
import { NodeProcess } from '../helpers/processes.js';

const BOUNDED = { timeout: 60_000 };
const DIST_CLI = fileURLToPath(new URL('../../dist/cli/roster.js', import.meta.url));

class UsageExit extends Error {}

/** Records what a command prints and the exit code it sets. */
class TestIo implements CliIo {
  out = '';
  err = '';
  code = 0;
  readonly env: Record<string, string | undefined> = {};
  readonly interrupted = new AbortController().signal;
  readonly stdout: CliIo['stdout'] = { isTTY: false, write: (text: string) => (this.out += text) };
  readonly stderr: CliIo['stderr'] = { write: (text: string) => (this.err += text) };

  setExitCode(code: number): void {
    this.code = code;
  }

  exit(code: number): never {
    this.code = code;
    throw new UsageExit();
  }
}

async function run(args: string[], make: (io: CliIo) => Command = maintCommand): Promise<TestIo> {
  const io = new TestIo();
  const command = make(io);
  await command.parseAsync(args, { from: 'user' }).catch((error: unknown) => {
    if (!(error instanceof UsageExit)) throw error;
  });
  return io;
}

function reg(service: string, port: number): Registration {
  return { service, url: `http://127.0.0.1:${port}`, requires: [], updateUrl: null, heartbeatUrl: null, ttlMs: 600_000, metadata: {}, protocol: 'v1', owner: null };
}

async function registry(t: TestContext) {
  const server = await startRegistry({ host: '127.0.0.1', port: 0 });
  t.after(() => server.close());
  await server.registry.register(reg('LogService', 4000));
  await server.registry.register(reg('LogService', 4001));
  return server;
}

test('maint <url> on|off: the instance goes in and out of maintenance, with its reason and drain', BOUNDED, async (t) => {
  const server = await registry(t);
  const token = server.adminToken as string;
  const on = await run(['http://127.0.0.1:4000', 'on', '--reason', 'disk swap', '--drain', '30000', '--registry', server.url, '--token', token]);
  assert.equal(on.code, 0, on.err);
  assert.match(on.out, /^LogService at http:\/\/127\.0\.0\.1:4000 is in maintenance \(dependents keep it until .+\): disk swap$/m);
  assert.equal(server.registry.instances().find((i) => i.url.endsWith(':4000'))?.maintenance?.reason, 'disk swap');
  const ls = await run(['--registry', server.url, '--token', token], lsCommand);
  assert.match(ls.out, /http:\/\/127\.0\.0\.1:4000 +passing maintenance/);
  assert.doesNotMatch(ls.out, /4001 +passing maintenance/);

  const off = await run(['http://127.0.0.1:4000', 'off', '--registry', server.url, '--token', token]);
  assert.equal(off.code, 0, off.err);
  assert.match(off.out, /is out of maintenance: dependents have it again$/m);
  assert.equal(server.registry.instances().find((i) => i.url.endsWith(':4000'))?.maintenance, null);
});

test('maint <service> on|off takes the whole service; --json prints the answer; bad input exits 2, an unknown URL 1', BOUNDED, async (t) => {
  const server = await registry(t);
  const token = server.adminToken as string;
  const on = await run(['LogService', 'on', '--registry', server.url, '--token', token, '--json']);
  assert.equal(on.code, 0, on.err);
  const answer = JSON.parse(on.out) as { maintenance: { reason: string }; instances: Array<{ maintenance: { scope: string } | null }> };
  assert.equal(answer.maintenance.reason, 'maintenance');
  assert.deepEqual(answer.instances.map((i) => i.maintenance?.scope), ['service', 'service']);
  const off = await run(['LogService', 'off', '--registry', server.url, '--token', token]);
  assert.match(off.out, /^service LogService is out of maintenance \(2 instances now\)$/m);

  assert.equal((await run(['LogService', 'maybe', '--registry', server.url, '--token', token])).code, 2);
  assert.equal((await run(['not a name', 'on', '--registry', server.url, '--token', token])).code, 2);
  const unknown = await run(['http://127.0.0.1:4999', 'on', '--registry', server.url, '--token', token]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /INSTANCE_NOT_FOUND: no instance is registered at http:\/\/127\.0\.0\.1:4999/);
});

test('as a process (the built `roster`): maint on exits 0; a refused token exits 1', BOUNDED, async (t) => {
  const server = await registry(t);
  const on = new NodeProcess(t, [DIST_CLI, 'maint', 'http://127.0.0.1:4001', 'on', '--reason', 'deploy', '--registry', server.url, '--token', server.adminToken as string], {}, { tsx: false });
  const [onCode] = await on.exited;
  assert.equal(onCode, 0, on.output);
  assert.match(on.lines.join('\n'), /is in maintenance \(dependents were told it is gone\): deploy/);
  const refused = new NodeProcess(t, [DIST_CLI, 'maint', 'LogService', 'off', '--registry', server.url, '--token', 'not-a-valid-token-at-all'], {}, { tsx: false });
  assert.equal((await refused.exited)[0], 1, refused.output);
});
