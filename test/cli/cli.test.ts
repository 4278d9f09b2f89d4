// The operator commands: in-process with an injected stdout/stderr for speed, plus real processes
// for the exit codes a script sees.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { depsCommand } from '../../src/cli/commands/deps.js';
import { deregisterCommand } from '../../src/cli/commands/deregister.js';
import { lsCommand } from '../../src/cli/commands/ls.js';
import { watchCommand } from '../../src/cli/commands/watch.js';
import type { CliIo } from '../../src/cli/registry-api.js';
import type { Registration } from '../../src/registry/catalog.js';
import { freePort, NodeProcess } from '../helpers/processes.js';
import { startWatchRegistry } from '../helpers/watch-registry.js';

/** Tests wait for events; one that never comes fails the test instead of hanging the run. */
const BOUNDED = { timeout: 60_000 };

const CLI_ENTRY = fileURLToPath(new URL('../fixtures/cli-entry.ts', import.meta.url));

class UsageExit extends Error {}

/** An io that records what a command prints and the exit code it sets. */
class TestIo implements CliIo {
  out = '';
  err = '';
  code = 0;
  readonly #interrupt = new AbortController();
  readonly #waiters: Array<() => void> = [];
  readonly stdout: CliIo['stdout'];
  readonly stderr: CliIo['stderr'] = { write: (text: string) => (this.err += text) };

  constructor(readonly env: Record<string, string | undefined> = {}, isTTY = false) {
    this.stdout = { isTTY, write: (text: string) => this.#print(text) };
  }

  get interrupted(): AbortSignal {
    return this.#interrupt.signal;
  }

  setExitCode(code: number): void {
    this.code = code;
  }

  exit(code: number): never {
    this.code = code;
    throw new UsageExit();
  }

  /** Ctrl-C. */
  interrupt(): void {
    this.#interrupt.abort();
  }

  get lines(): string[] {
    return this.out.split('\n').filter((line) => line !== '');
  }

  async waitForLine(pattern: RegExp): Promise<string> {
    for (;;) {
      const found = this.lines.find((line) => pattern.test(line));
      if (found !== undefined) return found;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  #print(text: string): void {
    this.out += text;
    for (const wake of this.#waiters.splice(0)) wake();
  }
}

async function run(make: (io: CliIo) => Command, args: string[], io = new TestIo()): Promise<TestIo> {
  await make(io)
    .parseAsync(args, { from: 'user' })
    .catch((error: unknown) => {
      if (!(error instanceof UsageExit)) throw error;
    });
  return io;
}

function reg(service: string, port: number, requires: string[] = []): Registration {
  return { service, url: `http://127.0.0.1:${port}`, requires, updateUrl: null, heartbeatUrl: null, ttlMs: 600_000, metadata: {}, protocol: 'v1', owner: null };
}

/** Log ← Grading ← Portal, and Portal also requires a Mailer nobody runs. */
async function demoRegistry(t: TestContext) {
  const server = await startWatchRegistry(t);
  await server.registry.register(reg('LogService', 4000));
  await server.registry.register(reg('GradingService', 6000, ['LogService']));
  await server.registry.register(reg('GradingService', 6001, ['LogService']));
  await server.registry.register(reg('PortalService', 5000, ['GradingService', 'Mailer']));
  return server;
}

test('ls: a table of services with instances, health, counts and dependents; --json is the /v1/services answer', BOUNDED, async (t) => {
  const server = await demoRegistry(t);
  const io = await run(lsCommand, ['--registry', server.url]);

  assert.equal(io.code, 0, io.err);
  assert.match(io.lines[0] ?? '', /^SERVICE\s+INSTANCE\s+HEALTH\s+PASSING\s+CRITICAL\s+REQUIRED BY$/);
  assert.match(io.out, /^GradingService\s+http:\/\/127\.0\.0\.1:6000\s+passing\s+2\s+0\s+PortalService$/m);
  assert.match(io.out, /^\s+http:\/\/127\.0\.0\.1:6001\s+passing$/m);
  assert.match(io.out, /^LogService\s+http:\/\/127\.0\.0\.1:4000\s+passing\s+1\s+0\s+GradingService$/m);
  assert.match(io.out, /^Mailer\s+\(no instance\)\s+-\s+0\s+0\s+PortalService$/m);
  assert.doesNotMatch(io.out, /\u001b\[/, 'no colour when stdout is not a terminal');

  const json = await run(lsCommand, ['--registry', server.url, '--json']);
  assert.deepEqual(JSON.parse(json.out), await (await fetch(`${server.url}/v1/services`)).json());
});

test('ls: colour on a terminal, none with NO_COLOR; ROSTER_REGISTRY_URL when there is no --registry', BOUNDED, async (t) => {
  const server = await demoRegistry(t);
  const tty = await run(lsCommand, [], new TestIo({ ROSTER_REGISTRY_URL: server.url }, true));
  assert.match(tty.out, /\u001b\[32mpassing\u001b\[39m/);

  const noColor = await run(lsCommand, [], new TestIo({ ROSTER_REGISTRY_URL: server.url, NO_COLOR: '1' }, true));
  assert.equal(noColor.code, 0);
  assert.doesNotMatch(noColor.out, /\u001b\[/);
});

test('deps <service>: requires, required by, and everything that breaks with it, transitively', BOUNDED, async (t) => {
  const server = await demoRegistry(t);
  const io = await run(depsCommand, ['LogService', '--registry', server.url]);
  assert.equal(io.code, 0, io.err);
  assert.match(io.out, /^required by:\s+GradingService$/m);
  assert.match(io.out, /breaks if it goes away .*: GradingService, PortalService$/m);

  const portal = await run(depsCommand, ['PortalService', '--registry', server.url]);
  assert.match(portal.out, /^requires:\s+GradingService, Mailer \(no passing instance\)$/m);

  const json = await run(depsCommand, ['LogService', '--registry', server.url, '--json']);
  assert.deepEqual(JSON.parse(json.out), { service: 'LogService', requires: [], requiredBy: ['GradingService'], dependents: ['GradingService', 'PortalService'] });

  const unknown = await run(depsCommand, ['Nobody', '--registry', server.url]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /SERVICE_NOT_FOUND: no service "Nobody"/);
});

test('deps without a service: the whole graph as an edge list', BOUNDED, async (t) => {
  const server = await demoRegistry(t);
  const io = await run(depsCommand, ['--registry', server.url]);
  assert.deepEqual(io.lines, ['GradingService -> LogService', 'PortalService -> GradingService', 'PortalService -> Mailer']);

  const json = await run(depsCommand, ['--registry', server.url, '--json']);
  assert.deepEqual(JSON.parse(json.out).edges, [
    { from: 'GradingService', to: 'LogService' },
    { from: 'PortalService', to: 'GradingService' },
    { from: 'PortalService', to: 'Mailer' },
  ]);
});

test('deregister <url>: removes that instance and says what it removed; an unknown URL exits 1', BOUNDED, async (t) => {
  const server = await demoRegistry(t);
  const io = await run(deregisterCommand, ['http://127.0.0.1:6001', '--registry', server.url]);
  assert.equal(io.code, 0, io.err);
  assert.match(io.out, /^deregistered GradingService at http:\/\/127\.0\.0\.1:6001 \(revision 5\)$/m);
  assert.deepEqual(server.registry.service('GradingService').instances.map((i) => i.url), ['http://127.0.0.1:6000']);

  const again = await run(deregisterCommand, ['http://127.0.0.1:6001', '--registry', server.url]);
  assert.equal(again.code, 1);
  assert.equal(again.out, '');
  assert.match(again.err, /INSTANCE_NOT_FOUND: no instance is registered at http:\/\/127\.0\.0\.1:6001/);
});

test('usage errors exit 2: a missing argument, an unknown option, a bad URL', BOUNDED, async () => {
  assert.equal((await run(deregisterCommand, [])).code, 2);
  assert.equal((await run(lsCommand, ['--bogus'])).code, 2);
  const badUrl = await run(lsCommand, ['--registry', 'localhost:3000']);
  assert.equal(badUrl.code, 2);
  assert.match(badUrl.err, /--registry must be an http/);
});

test('watch: prints each change as it happens, one line (or one JSON object) each; Ctrl-C exits 0', BOUNDED, async (t) => {
  const server = await demoRegistry(t);
  const text = new TestIo();
  const json = new TestIo();
  const runs = [run(watchCommand, ['GradingService', '--registry', server.url], text), run(watchCommand, ['--registry', server.url, '--json'], json)];
  await text.waitForLine(/rev 4 snapshot: 2 instance/);
  await json.waitForLine(/"snapshot"/);

  server.registry.deregisterByUrl('http://127.0.0.1:6000');
  server.registry.deregisterByUrl('http://127.0.0.1:4000');
  await text.waitForLine(/rev 5/);
  await json.waitForLine(/"revision":6/);
  text.interrupt();
  json.interrupt();
  await Promise.all(runs);

  assert.match(text.lines[1] ?? '', /^\d\d:\d\d:\d\d rev 5 deregistered GradingService http:\/\/127\.0\.0\.1:6000$/);
  assert.equal(text.lines.length, 2, 'LogService is not watched');
  const changes = json.lines.slice(1).map((line) => JSON.parse(line));
  assert.deepEqual(changes.map((c) => [c.revision, c.type, c.instance.url]), [[5, 'deregistered', 'http://127.0.0.1:6000'], [6, 'deregistered', 'http://127.0.0.1:4000']]);
  assert.equal(text.code, 0);
  assert.equal(json.code, 0);
  assert.equal(server.watch.openStreams, 0);
});

test('watch: an unreachable registry at the start exits 3 instead of retrying forever', BOUNDED, async () => {
  const port = await freePort();
  const io = await run(watchCommand, [], new TestIo({ ROSTER_REGISTRY_URL: `http://127.0.0.1:${port}` }));
  assert.equal(io.code, 3);
  assert.match(io.err, new RegExp(`cannot reach the registry at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
});

test('as a process: exit 3 and where to point when the registry is unreachable, 2 on a usage error', BOUNDED, async (t) => {
  const port = await freePort();
  const ls = new NodeProcess(t, [CLI_ENTRY, 'ls', '--registry', `http://127.0.0.1:${port}`]);
  const usage = new NodeProcess(t, [CLI_ENTRY, 'deregister']);
  const [[lsCode], [usageCode]] = await Promise.all([ls.exited, usage.exited]);

  assert.equal(lsCode, 3, ls.output);
  assert.match(ls.output, new RegExp(`cannot reach the registry at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\).*--registry URL or ROSTER_REGISTRY_URL`));
  assert.equal(usageCode, 2, usage.output);
  assert.match(usage.output, /missing required argument 'url'/);
});
