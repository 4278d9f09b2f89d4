// The operator commands where a user stumbled: a watched service that is not there yet, --json
// errors, a URL spelled with a trailing slash, a --registry URL ending in /v1, the words of a
// usage error.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Command } from 'commander';
import { depsCommand } from '../../src/cli/commands/deps.js';
import { deregisterCommand, spellings } from '../../src/cli/commands/deregister.js';
import { resolveDemoSettings } from '../../src/cli/commands/demo-service.js';
import { lsCommand } from '../../src/cli/commands/ls.js';
import { watchCommand } from '../../src/cli/commands/watch.js';
import { registryUrl, type CliIo } from '../../src/cli/registry-api.js';
import type { Registration } from '../../src/registry/catalog.js';
import { startRegistry } from '../../src/registry/start-registry.js';
import { NodeProcess, ROSTER_CLI } from '../helpers/processes.js';

const BOUNDED = { timeout: 60_000 };

class UsageExit extends Error {}

/** Records what a command prints; `waitFor` wakes at each write. */
class TestIo implements CliIo {
  out = '';
  err = '';
  code = 0;
  readonly env: Record<string, string | undefined> = {};
  readonly #interrupt = new AbortController();
  readonly #waiters: Array<() => void> = [];
  readonly stdout = { isTTY: false, write: (text: string) => this.#print('out', text) };
  readonly stderr = { write: (text: string) => this.#print('err', text) };

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

  interrupt(): void {
    this.#interrupt.abort();
  }

  async waitFor(stream: 'out' | 'err', pattern: RegExp): Promise<void> {
    while (!pattern.test(this[stream])) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  #print(stream: 'out' | 'err', text: string): void {
    this[stream] += text;
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

function reg(service: string, url: string): Registration {
  return { service, url, requires: [], updateUrl: null, heartbeatUrl: null, ttlMs: 600_000, metadata: {}, protocol: 'v1', owner: null };
}

async function registry(t: TestContext) {
  // Authentication off: these cases are about what the commands print, not about credentials.
  const server = await startRegistry({ host: '127.0.0.1', port: 0, store: 'memory', auth: { insecure: true } });
  t.after(() => server.close());
  await server.registry.register(reg('LogService', 'http://127.0.0.1:4000'));
  return server;
}

test('watch of a service that is not there yet says it waits for it, then shows it when it comes', BOUNDED, async (t) => {
  const server = await registry(t);
  const io = new TestIo();
  const watching = run(watchCommand, ['NoSuch', '--registry', server.url], io);
  await io.waitFor('err', /no instance of "NoSuch" is registered; waiting for one to appear \(Ctrl-C stops\)/);

  await server.registry.register(reg('NoSuch', 'http://127.0.0.1:4100'));
  await io.waitFor('out', /registered NoSuch http:\/\/127\.0\.0\.1:4100/);
  io.interrupt();
  await watching;
  assert.equal(io.code, 0, io.err);
});

test('watch of a service that is there prints no waiting line', BOUNDED, async (t) => {
  const server = await registry(t);
  const io = new TestIo();
  const watching = run(watchCommand, ['LogService', '--registry', server.url], io);
  await io.waitFor('out', /snapshot: 1 instance/);
  io.interrupt();
  await watching;
  assert.equal(io.err, '');
});

test('--json: an error is printed as JSON { code, message } on stdout, with the same exit code', BOUNDED, async (t) => {
  const server = await registry(t);
  const deps = await run(depsCommand, ['NoSuch', '--registry', server.url, '--json']);
  assert.equal(deps.code, 1);
  assert.equal(deps.err, '');
  assert.deepEqual(JSON.parse(deps.out), { code: 'SERVICE_NOT_FOUND', message: 'no service "NoSuch" is registered or required; `roster ls` lists them' });

  const gone = await run(lsCommand, ['--registry', 'http://127.0.0.1:1', '--json']);
  assert.equal(gone.code, 3);
  assert.equal((JSON.parse(gone.out) as { code: string }).code, 'REGISTRY_UNREACHABLE');
});

test('deregister finds an instance whatever the trailing slash', BOUNDED, async (t) => {
  const server = await registry(t);
  await server.registry.register(reg('Slashed', 'http://127.0.0.1:4200/'));

  const bare = await run(deregisterCommand, ['http://127.0.0.1:4000/', '--registry', server.url]);
  assert.equal(bare.code, 0, bare.err);
  assert.match(bare.out, /^deregistered LogService at http:\/\/127\.0\.0\.1:4000 /);

  const slashed = await run(deregisterCommand, ['http://127.0.0.1:4200', '--registry', server.url]);
  assert.equal(slashed.code, 0, slashed.err);
  assert.match(slashed.out, /^deregistered Slashed at http:\/\/127\.0\.0\.1:4200\/ /);

  const none = await run(deregisterCommand, ['http://127.0.0.1:4300/', '--registry', server.url]);
  assert.equal(none.code, 1);
  assert.match(none.err, /INSTANCE_NOT_FOUND: no instance is registered at http:\/\/127\.0\.0\.1:4300\//);
});

test('deregister tries the URL as given first, then its other spellings', () => {
  assert.deepEqual(spellings('http://H:4000/'), ['http://H:4000/', 'http://H:4000', 'http://h:4000/', 'http://h:4000']);
  assert.deepEqual(spellings('http://h:4000/api'), ['http://h:4000/api', 'http://h:4000/api/']);
});

test('--registry ending in /v1 (or /v1/) is the registry itself', BOUNDED, async (t) => {
  assert.equal(registryUrl({ registry: 'http://h:3000/v1' }, {}), 'http://h:3000');
  assert.equal(registryUrl({ registry: 'http://h:3000/v1/' }, {}), 'http://h:3000');
  assert.equal(registryUrl({}, { ROSTER_REGISTRY_URL: 'http://h:3000/v1' }), 'http://h:3000');
  const server = await registry(t);
  const ls = await run(lsCommand, ['--registry', `${server.url}/v1`]);
  assert.equal(ls.code, 0, ls.err);
  assert.match(ls.out, /^LogService\s+http:\/\/127\.0\.0\.1:4000\s+passing/m);
});

test('a service command takes --registry URLs ending in /v1 as their registries too', () => {
  const settings = resolveDemoSettings('grading', { protocol: 'roster', dataDir: '/nonexistent-roster-data', registry: 'http://a:3001/v1,http://b:3002/v1/' }, {}, { isTTY: false });
  assert.deepEqual(settings.registryUrl, ['http://a:3001', 'http://b:3002']);
});

test('as a process: usage errors begin with "roster:", not "error:"', BOUNDED, async (t) => {
  const cases = [
    ['ls', '--bogus'],
    ['deregister'],
    ['grading', '--port', 'nine'],
    ['nosuch'],
  ].map((args) => new NodeProcess(t, [ROSTER_CLI, ...args]));
  for (const command of cases) {
    const [code] = await command.exited;
    assert.equal(code, command.child.spawnargs.includes('nosuch') ? 1 : 2, command.output);
    assert.match(command.output, /^roster: /m);
    assert.doesNotMatch(command.output, /^error: /m);
  }
});
