// The operator commands: in-process with an injected stdout/stderr for speed, plus real processes
// for the exit codes a script sees.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { depsCommand } from '../../src/cli/commands/deps.js';
import { deregisterCommand } from '../../src/cli/commands/deregister.js';
import { lsCommand } from '../../src/cli/commands/ls.js';
import { watchCommand } from '../../src/cli/commands/watch.js';
import { isThisMachine, type CliIo } from '../../src/cli/registry-api.js';
import type { Registration } from '../../src/registry/catalog.js';
import { freePort, NodeProcess, scratchDir } from '../helpers/processes.js';
import { startRegistry } from '../../src/registry/start-registry.js';

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
  // Authentication off: these cases are about what the commands print, not about credentials.
  const server = await startRegistry({ host: '127.0.0.1', port: 0, auth: { insecure: true } });
  t.after(() => server.close());
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
  assert.equal(server.app.openWatchStreams, 0);
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

/**
 * A registry that wants a token: `good` reads and writes, `reader` only reads; it records the
 * Authorization header of every request.
 */
async function guardedRegistry(t: TestContext) {
  const seen: Array<string | undefined> = [];
  const valid = new Set(['Bearer good', 'Bearer reader']);
  const server = createServer((req, res) => {
    seen.push(req.headers.authorization);
    const answer = (status: number, body: object) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const auth = req.headers.authorization;
    if (auth === undefined || !valid.has(auth)) return answer(401, { code: 'UNAUTHORIZED', message: 'a valid token is needed' });
    if (req.method !== 'GET' && auth !== 'Bearer good') return answer(403, { code: 'FORBIDDEN', message: 'this needs the "register" scope' });
    if (req.method === 'DELETE') return answer(404, { code: 'INSTANCE_NOT_FOUND', message: 'no such instance' });
    if (req.url?.startsWith('/v1/watch')) return void res.writeHead(200, { 'content-type': 'text/event-stream' }).write('event: snapshot\ndata: {"revision":0,"instances":[]}\n\n');
    return answer(200, { revision: 0, services: [] });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  /** Drops `token` and every open stream, as a registry whose tokens file lost it. */
  const revoke = (token: string): void => {
    valid.delete(`Bearer ${token}`);
    server.closeAllConnections();
  };
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, revoke };
}

test('credentials: --token, else ROSTER_TOKEN, else the admin.token of --data-dir, sent as a Bearer token', BOUNDED, async (t) => {
  const registry = await guardedRegistry(t);
  const flag = await run(lsCommand, ['--registry', registry.url, '--token', 'good'], new TestIo({ ROSTER_TOKEN: 'bad' }));
  assert.equal(flag.code, 0, flag.err);
  const env = await run(lsCommand, ['--registry', registry.url], new TestIo({ ROSTER_TOKEN: 'good' }));
  assert.equal(env.code, 0, env.err);

  const dataDir = scratchDir(t);
  writeFileSync(join(dataDir, 'admin.token'), 'good\n', { mode: 0o600 });
  const file = await run(lsCommand, ['--registry', registry.url, '--data-dir', dataDir]);
  assert.equal(file.code, 0, file.err);
  assert.match(file.out, /no service is registered/);

  const watching = new TestIo({ ROSTER_TOKEN: 'good' });
  const watch = run(watchCommand, ['--registry', registry.url], watching);
  await watching.waitForLine(/rev 0 snapshot/);
  watching.interrupt();
  assert.equal((await watch).code, 0, watching.err);
  assert.deepEqual(registry.seen, ['Bearer good', 'Bearer good', 'Bearer good', 'Bearer good']);
});

test('credentials: a refused or missing token exits 1 and says how to give one, never printing it', BOUNDED, async (t) => {
  const registry = await guardedRegistry(t);
  const none = await run(lsCommand, ['--registry', registry.url, '--data-dir', scratchDir(t)]);
  assert.equal(none.code, 1);
  assert.match(none.err, /UNAUTHORIZED: a valid token is needed; no token was sent: give a token with --token <secret> or ROSTER_TOKEN, or, on the registry's machine, --data-dir/);
  assert.equal(registry.seen[0], undefined);

  const wrong = await run(depsCommand, ['--registry', registry.url], new TestIo({ ROSTER_TOKEN: 'not-the-secret' }));
  assert.equal(wrong.code, 1);
  assert.match(wrong.err, /the token from ROSTER_TOKEN was refused: give a token with --token/);
  assert.doesNotMatch(wrong.err, /not-the-secret/);

  const reader = await run(deregisterCommand, ['http://127.0.0.1:6001', '--registry', registry.url, '--token', 'reader']);
  assert.equal(reader.code, 1);
  assert.match(reader.err, /FORBIDDEN: this needs the "register" scope; the token from --token lacks that permission/);

  const watch = await run(watchCommand, ['--registry', registry.url, '--data-dir', scratchDir(t)]);
  assert.equal(watch.code, 1);
  assert.match(watch.err, /UNAUTHORIZED: .*no token was sent: give a token with --token <secret> or ROSTER_TOKEN/);
});

test('watch: a token revoked while watching ends the watch with exit 1 instead of retrying forever', BOUNDED, async (t) => {
  const registry = await guardedRegistry(t);
  const io = new TestIo({ ROSTER_TOKEN: 'good' });
  const watch = run(watchCommand, ['--registry', registry.url], io);
  await io.waitForLine(/rev 0 snapshot/);
  registry.revoke('good');
  assert.equal((await watch).code, 1);
  assert.match(io.err, /UNAUTHORIZED: a valid token is needed; the token from ROSTER_TOKEN was refused/);
});

test('ROSTER_TLS_CA naming a file that cannot be read is a usage error naming it', BOUNDED, async () => {
  const io = await run(lsCommand, ['--registry', 'https://127.0.0.1:1'], new TestIo({ ROSTER_TLS_CA: '/nonexistent/ca.pem' }));
  assert.equal(io.code, 2);
  assert.match(io.err, /"ROSTER_TLS_CA" names a CA file that cannot be read: \/nonexistent\/ca\.pem/);
});

test('credentials: admin.token is read only for a registry on this machine', () => {
  for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '[::1]', '::1']) assert.equal(isThisMachine(host), true, host);
  for (const host of ['registry.example.com', '192.0.2.1']) assert.equal(isThisMachine(host), false, host);
});
