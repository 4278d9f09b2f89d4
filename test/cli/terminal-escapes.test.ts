// What the CLI prints from a registry cannot drive the terminal: an instance URL or a service
// name holding escape sequences (that retitle the terminal, ring its bell, clear the screen) is
// shown as \u001b escapes by ls, deps, watch and in error messages, in text and in --json.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Command } from 'commander';
import { depsCommand } from '../../src/cli/commands/deps.js';
import { lsCommand } from '../../src/cli/commands/ls.js';
import { watchCommand } from '../../src/cli/commands/watch.js';
import type { CliIo } from '../../src/cli/registry-api.js';
import { formatLogLine } from '../../src/cli/log-lines.js';
import { terminalSafe } from '../../src/cli/terminal-text.js';
import type { Registration } from '../../src/registry/catalog.js';
import { startRegistry } from '../../src/registry/start-registry.js';

const BOUNDED = { timeout: 30_000 };

/** Retitles the terminal, rings the bell, clears the screen, homes the cursor; then a C1 CSI and a bidi override. */
const HOSTILE = '\u001b]0;pwned\u0007\u001b[2J\u001b[H\u009b31m\u202e';
const HOSTILE_URL = `http://127.0.0.1:7001/${HOSTILE}`;

/** Any raw control character (or bidi override) a terminal would act on. */
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202e]/;

class TestIo implements CliIo {
  out = '';
  err = '';
  code = 0;
  readonly #interrupt = new AbortController();
  readonly #waiters: Array<() => void> = [];
  readonly stdout: CliIo['stdout'] = { isTTY: false, write: (text: string) => this.#print(text) };
  readonly stderr: CliIo['stderr'] = { write: (text: string) => (this.err += text) };
  readonly env: Record<string, string | undefined> = {};

  get interrupted(): AbortSignal {
    return this.#interrupt.signal;
  }

  setExitCode(code: number): void {
    this.code = code;
  }

  exit(code: number): never {
    this.code = code;
    throw new Error(`exit ${code}`);
  }

  interrupt(): void {
    this.#interrupt.abort();
  }

  async waitFor(pattern: RegExp): Promise<void> {
    while (!pattern.test(this.out)) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  #print(text: string): void {
    this.out += text;
    for (const wake of this.#waiters.splice(0)) wake();
  }
}

function hostile(service: string, url: string, requires: string[] = []): Registration {
  return { service, url, requires, updateUrl: null, heartbeatUrl: null, ttlMs: 600_000, metadata: { note: HOSTILE }, protocol: 'v1', owner: null };
}

/**
 * A registry already holding such data (written by an older Roster, or by a registry that does
 * not check): registered in-process, past the HTTP validation that now refuses it.
 */
async function hostileRegistry(t: TestContext) {
  const server = await startRegistry({ host: '127.0.0.1', port: 0, auth: { insecure: true } });
  t.after(() => server.close());
  await server.registry.register(hostile('Evil', HOSTILE_URL, [`Dep${HOSTILE}`]));
  return server;
}

async function run(make: (io: CliIo) => Command, args: string[], io = new TestIo()): Promise<TestIo> {
  await make(io).parseAsync(args, { from: 'user' });
  return io;
}

function assertInert(text: string): void {
  assert.doesNotMatch(text, RAW_CONTROL, `printed raw: ${JSON.stringify(text)}`);
}

test('terminalSafe shows control characters as escapes and leaves other text alone', () => {
  assert.equal(terminalSafe('a\u001b[2Jb\u0000c\u009b\n'), 'a\\u001b[2Jb\\u0000c\\u009b\\u000a');
  assert.equal(terminalSafe('Grädingservice → ok'), 'Grädingservice → ok');
});

test('a log line quoting a hostile URL is made readable, inert', () => {
  const line = JSON.stringify({ level: 30, time: 0, msg: `instance registered ${HOSTILE_URL}`, url: HOSTILE_URL, service: 'Evil' });
  const readable = formatLogLine(line);
  assertInert(readable);
  assert.match(readable, /^00:00:00 INFO {2}instance registered http:\/\/127\.0\.0\.1:7001\/\\u001b\]0;pwned/);
});

test('ls prints a hostile instance URL inert, as escapes, in text and in --json', BOUNDED, async (t) => {
  const server = await hostileRegistry(t);
  const text = await run(lsCommand, ['--registry', server.url]);
  assert.equal(text.code, 0, text.err);
  assertInert(text.out);
  assert.ok(text.out.includes('http://127.0.0.1:7001/\\u001b]0;pwned\\u0007\\u001b[2J\\u001b[H\\u009b31m\\u202e'), text.out);

  const json = await run(lsCommand, ['--registry', server.url, '--json']);
  assertInert(json.out);
  // The same JSON: a script reads the URL exactly as registered.
  const parsed = JSON.parse(json.out) as { services: Array<{ instances: Array<{ url: string }> }> };
  assert.ok(parsed.services.some((service) => service.instances.some((instance) => instance.url === HOSTILE_URL)));
});

test('deps prints hostile service names inert', BOUNDED, async (t) => {
  const server = await hostileRegistry(t);
  const graph = await run(depsCommand, ['--registry', server.url]);
  assert.equal(graph.code, 0, graph.err);
  assertInert(graph.out);
  assert.match(graph.out, /^Evil -> Dep\\u001b\]0;pwned\\u0007/m);
  const one = await run(depsCommand, ['Evil', '--registry', server.url]);
  assertInert(one.out);
  assert.match(one.out, /^requires:\s+Dep\\u001b/m);
});

test('watch prints a hostile change inert, in text and in --json', BOUNDED, async (t) => {
  const server = await startRegistry({ host: '127.0.0.1', port: 0, auth: { insecure: true } });
  t.after(() => server.close());
  for (const flags of [[], ['--json']]) {
    const io = new TestIo();
    const watching = run(watchCommand, ['--registry', server.url, ...flags], io);
    await io.waitFor(/snapshot/);
    const url = `${HOSTILE_URL}${flags.length}`;
    await server.registry.register(hostile('Evil', url));
    await io.waitFor(/registered/);
    io.interrupt();
    await watching;
    assertInert(io.out);
    assert.ok(io.out.includes('\\u001b]0;pwned'), io.out);
  }
});

test('an error quoting a hostile URL is printed inert', BOUNDED, async (t) => {
  const server = await hostileRegistry(t);
  const io = await run(depsCommand, [`Nobody${HOSTILE}`, '--registry', server.url]);
  assert.equal(io.code, 1);
  assertInert(io.err);
  assert.match(io.err, /Nobody\\u001b\]0;pwned/);
});
