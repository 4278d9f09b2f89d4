import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RegistryClient } from '../../../src/client/index.js';
import { RosterError } from '../../../src/protocol/index.js';
import {
  buildLogApp,
  courseLine,
  createServiceLogger,
  escapeControls,
  openLogStore,
  type LogEntry,
  type LogProviderSource,
  type LogStore,
  type ProviderChange,
  type ServiceLogger,
  type ServiceLoggerOptions,
} from '../../../src/services/log/index.js';
import { FakeClock } from '../../helpers/fake-clock.js';

/** Stands in for a RegistryClient: one LogService URL or none, and 'change' events on demand. */
class FakeClient extends EventEmitter<{ change: [ProviderChange] }> {
  url: string | null = null;
  /** As a RegistryClient's resolved options: the token it registers with. */
  options: { token: string | null } = { token: null };

  provider(service: string): string {
    if (service === 'LogService' && this.url) return this.url;
    throw new RosterError('NO_PROVIDER', `no instance of service "${service}" is available`);
  }

  providers(service: string): string[] {
    return service === 'LogService' && this.url ? [this.url] : [];
  }

  appear(url: string): void {
    this.url = url;
    this.emit('change', { service: 'LogService', added: [url], removed: [], revision: 1 } as ProviderChange);
  }
}

class Collector {
  text = '';
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
  get lines(): string[] {
    return this.text.split('\n').filter((line) => line !== '');
  }
}

/** A store that says when entries arrived, so that tests wait for events, not for time. */
class WatchedStore implements LogStore {
  readonly appended = new EventEmitter();
  constructor(readonly inner: LogStore) {}
  async append(entries: LogEntry | readonly LogEntry[]): Promise<void> {
    await this.inner.append(entries);
    this.appended.emit('append');
  }
  recent(): LogEntry[] {
    return this.inner.recent({ limit: 1000 }).reverse();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  /** Resolves once `count` entries are stored. */
  holding(count: number): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.recent().length < count) return;
        this.appended.off('append', check);
        resolve();
      };
      this.appended.on('append', check);
      check();
    });
  }
}

interface LogServiceUnderTest {
  url: string;
  store: WatchedStore;
  /** While true the service answers 500 to everything. */
  failing: boolean;
}

/** The grading service's token, as the stand-in registry knows it. */
const TOKEN = 'grading-token-0123456789';
const identity = { identify: async (token: string) => (token === TOKEN ? { name: 'grading', scopes: ['register'], services: ['GradingService'] } : null) };

/** A real log app on 127.0.0.1:0 (behind a switch that can make it fail). */
async function startLogService(t: TestContext): Promise<LogServiceUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), 'roster-service-logger-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = new WatchedStore(await openLogStore({ dir }));
  const app = buildLogApp({ store, identity });
  await app.ready();
  const service = { url: '', store, failing: false };
  service.url = await listen(t, (req, res) => (service.failing ? res.writeHead(500).end() : app.routing(req, res)));
  t.after(async () => {
    await app.close();
    await store.close();
  });
  return service;
}

async function listen(t: TestContext, handler: RequestListener): Promise<string> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())).then(() => undefined));
  t.after(() => server.closeAllConnections());
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

interface Harness {
  client: FakeClient;
  stdout: Collector;
  stderr: Collector;
  clock: FakeClock;
  shipper: ServiceLogger;
}

function serviceLogger(t: TestContext, options: Partial<ServiceLoggerOptions> = {}): Harness {
  const client = new FakeClient();
  const stdout = new Collector();
  const stderr = new Collector();
  const clock = new FakeClock();
  const shipper = createServiceLogger({ client, service: 'GradingService', stdout, stderr, clock, token: TOKEN, ...options });
  t.after(() => shipper.close());
  return { client, stdout, stderr, clock, shipper };
}

/** Tests that wait for deliveries fail instead of hanging when the delivery never comes. */
const WAITS = { timeout: 10_000 };

const messages = (store: WatchedStore): string[] => store.recent().map((entry) => entry.message);

test('a RegistryClient can be handed in as the provider source', () => {
  const asSource = (client: RegistryClient): LogProviderSource => client;
  assert.equal(typeof asSource, 'function');
});

test('entries logged while no LogService exists are buffered and delivered in order once one appears', WAITS, async (t) => {
  const logService = await startLogService(t);
  const { client, stdout, shipper } = serviceLogger(t);

  shipper.logger.info('one');
  shipper.logger.warn('two');
  shipper.logger.error('three');
  await shipper.flush();
  assert.deepEqual(logService.store.recent(), [], 'nothing can be sent without a provider');
  assert.equal(stdout.lines.length, 3, 'stdout gets every entry at once');

  client.appear(logService.url);
  await logService.store.holding(3);

  assert.deepEqual(logService.store.recent().map(({ service, level, message }) => ({ service, level, message })), [
    { service: 'GradingService', level: 'info', message: 'one' },
    { service: 'GradingService', level: 'warn', message: 'two' },
    { service: 'GradingService', level: 'error', message: 'three' },
  ]);
});

test('with a provider known, entries are shipped as they are logged', WAITS, async (t) => {
  const logService = await startLogService(t);
  const { client, shipper } = serviceLogger(t);
  client.url = logService.url;

  for (let i = 0; i < 50; i++) shipper.logger.info(`m${i}`);
  await logService.store.holding(50);

  assert.deepEqual(messages(logService.store), Array.from({ length: 50 }, (_, i) => `m${i}`));
});

test('beyond bufferSize the oldest entries go to stderr with a note; the newest are delivered', WAITS, async (t) => {
  const logService = await startLogService(t);
  const { client, stderr, shipper } = serviceLogger(t, { bufferSize: 2 });

  for (let i = 0; i < 5; i++) shipper.logger.info(`m${i}`);

  assert.equal(stderr.lines.length, 3);
  for (const [i, line] of stderr.lines.entries()) {
    assert.match(line, /^roster: log entry not delivered, buffer full \(2 entries waiting for LogService\): /);
    assert.equal(JSON.parse(line.slice(line.indexOf('{'))).message, `m${i}`);
  }
  client.appear(logService.url);
  await logService.store.holding(2);
  assert.deepEqual(messages(logService.store), ['m3', 'm4']);
});

test('a LogService answering 500 is retried with backoff and gets the entries once it recovers', WAITS, async (t) => {
  const logService = await startLogService(t);
  logService.failing = true;
  const calls: string[] = [];
  const fetchImpl: typeof fetch = (input, init) => {
    calls.push(String(input));
    return fetch(input, init);
  };
  const { client, clock, stderr, shipper } = serviceLogger(t, { fetchImpl, retryInitialMs: 500 });
  client.url = logService.url;

  shipper.logger.info('survives');
  await shipper.flush();
  const attempts = calls.length;
  assert.ok(attempts >= 1);
  assert.deepEqual(logService.store.recent(), []);
  assert.equal(clock.pending, 1, 'a retry is scheduled');

  logService.failing = false;
  await clock.tick(399);
  assert.equal(calls.length, attempts, 'no retry before the backoff has passed');
  const delivered = logService.store.holding(1);
  await clock.tick(30_000);
  await delivered;

  assert.equal(calls.length, attempts + 1);
  assert.deepEqual(messages(logService.store), ['survives']);
  assert.equal(stderr.text, '', 'nothing was given up');
});

test('a LogService that appears while backing off is tried at once', WAITS, async (t) => {
  const logService = await startLogService(t);
  const dead = 'http://127.0.0.1:9';
  const fetchImpl: typeof fetch = (input, init) =>
    String(input).startsWith(dead) ? Promise.reject(new Error('ECONNREFUSED')) : fetch(input, init);
  const { client, clock, shipper } = serviceLogger(t, { fetchImpl, retryMaxMs: 60_000 });
  client.url = dead;
  shipper.logger.info('kept');
  await shipper.flush();
  assert.equal(clock.pending, 1, 'backing off');

  client.appear(logService.url);
  await logService.store.holding(1);

  assert.deepEqual(messages(logService.store), ['kept']);
  assert.equal(clock.pending, 0, 'the backoff was dropped');
});

test('stdout gets one readable line per entry; the log service gets the message with its fields', WAITS, async (t) => {
  const logService = await startLogService(t);
  const { client, stdout, shipper } = serviceLogger(t);
  client.url = logService.url;

  shipper.logger.warn({ student: 3 }, 'first line\nsecond line');
  await logService.store.holding(1);

  assert.equal(stdout.lines.length, 1);
  assert.match(stdout.text, /^\d{4}-\d\d-\d\dT\S+Z WARN  GradingService: first line\\nsecond line \{"student":3\}\n$/);
  assert.deepEqual(messages(logService.store), ['first line\nsecond line {"student":3}']);
});

test('a message over the size limit is truncated, not refused', WAITS, async (t) => {
  const logService = await startLogService(t);
  const { client, stderr, shipper } = serviceLogger(t, { stdout: false });
  client.url = logService.url;

  shipper.logger.info('é'.repeat(20_000));
  await logService.store.holding(1);

  const [message] = messages(logService.store);
  assert.ok(Buffer.byteLength(message ?? '') <= 16 * 1024);
  assert.match(message ?? '', /…\[truncated\]$/);
  assert.equal(stderr.text, '');
});

test('a LogService refusing a batch (4xx) does not loop: the entries go to stderr', WAITS, async (t) => {
  const fetchImpl: typeof fetch = async () => new Response('{"code":"INVALID_REQUEST","message":"no"}', { status: 400 });
  const { client, stderr, shipper } = serviceLogger(t, { fetchImpl, stdout: false });
  client.url = 'http://127.0.0.1:9';

  shipper.logger.info('refused');
  await shipper.flush();

  assert.match(stderr.text, /refused them with HTTP 400: .*"message":"refused"/);
  await shipper.close();
  assert.equal(stderr.lines.length, 1, 'not written twice');
});

test('the course\'s Go log service (no /v1/logs) gets POST /log lines instead', WAITS, async (t) => {
  const { bodies, received, url } = await courseLogServer(t);
  const { client, shipper } = serviceLogger(t, { stdout: false });
  client.url = url;

  shipper.logger.info('hello');
  shipper.logger.warn('careful');
  while (bodies.length < 2) await once(received, 'log');

  assert.deepEqual(bodies, ['[GradingService] - hello\n', '[GradingService] - WARN careful\n']);
});

test('close() writes what no LogService took to stderr; later entries go to stdout and stderr; never throws', WAITS, async (t) => {
  const { stdout, stderr, shipper } = serviceLogger(t, { fetchImpl: () => { throw new Error('boom'); } });

  shipper.logger.info('a');
  shipper.logger.info('b');
  await Promise.all([shipper.close(), shipper.close()]);
  assert.equal(stderr.lines.length, 2);
  assert.match(stderr.lines[0] ?? '', /the logger closed before a LogService took them: .*"message":"a"/);

  assert.doesNotThrow(() => shipper.logger.info('late'));
  assert.match(stdout.lines.at(-1) ?? '', /GradingService: late$/);
  assert.match(stderr.lines.at(-1) ?? '', /the logger is closed: .*"message":"late"/);
});

test('a throwing fetch never reaches the caller; the entries are kept for the next try', WAITS, async (t) => {
  const logService = await startLogService(t);
  let broken = true;
  const fetchImpl: typeof fetch = (input, init) => {
    if (broken) throw new Error('boom');
    return fetch(input, init);
  };
  const { client, stderr, shipper } = serviceLogger(t, { fetchImpl, stdout: false });
  client.url = logService.url;

  assert.doesNotThrow(() => shipper.logger.info('kept'));
  await shipper.flush();
  assert.deepEqual(logService.store.recent(), []);

  broken = false;
  await shipper.flush();
  assert.deepEqual(messages(logService.store), ['kept']);
  assert.equal(stderr.text, '');
});

test('created without a client, the logger buffers; attach() sends what waited, in order', WAITS, async (t) => {
  const logService = await startLogService(t);
  const shipper = createServiceLogger({ service: 'GradingService', stdout: false });
  t.after(() => shipper.close());

  shipper.logger.info('before');
  shipper.logger.warn('still before');
  await shipper.flush();
  assert.deepEqual(logService.store.recent(), [], 'nothing can be sent without a client');

  // A client that already knows the LogService: no 'change' event will come, attaching must send.
  // The client's token is the logger's when the logger was given none.
  const client = new FakeClient();
  client.url = logService.url;
  client.options = { token: TOKEN };
  shipper.attach(client);
  await logService.store.holding(2);
  shipper.logger.info('after');
  await logService.store.holding(3);

  assert.deepEqual(messages(logService.store), ['before', 'still before', 'after']);
});

test('attach() refuses what is not a client, and is ignored once the logger is closed', async () => {
  const shipper = createServiceLogger({ service: 'GradingService', stdout: false, stderr: new Collector() });
  assert.throws(() => shipper.attach({} as LogProviderSource), { code: 'INVALID_OPTION', message: /^option "client"/ });

  await shipper.close();
  const client = new FakeClient();
  shipper.attach(client);

  assert.equal(client.listenerCount('change'), 0);
});

// ---- credentials and the course's line format

test('entries go to /v1/logs with the token as Authorization: Bearer; a log service that refuses it gets nothing twice', WAITS, async (t) => {
  const seen: (string | undefined)[] = [];
  const fetchImpl: typeof fetch = async (_url, init) => {
    seen.push(new Headers(init?.headers).get('authorization') ?? undefined);
    return new Response('{"code":"UNAUTHORIZED","message":"the registry does not know this token"}', { status: 401 });
  };
  const { client, stderr, shipper } = serviceLogger(t, { fetchImpl, stdout: false });
  client.url = 'http://127.0.0.1:9';

  shipper.logger.info('hello');
  await shipper.flush();

  assert.deepEqual(seen, [`Bearer ${TOKEN}`]);
  assert.match(stderr.text, /refused them with HTTP 401/);
});

test('without a token option, ROSTER_TOKEN is sent; a bad token option is refused at once', WAITS, async (t) => {
  const logService = await startLogService(t);
  const before = process.env.ROSTER_TOKEN;
  process.env.ROSTER_TOKEN = TOKEN;
  t.after(() => (before === undefined ? delete process.env.ROSTER_TOKEN : (process.env.ROSTER_TOKEN = before)));
  const { client, shipper } = serviceLogger(t, { token: undefined, stdout: false });
  client.url = logService.url;

  shipper.logger.info('from the environment');
  await logService.store.holding(1);

  assert.deepEqual(logService.store.recent().map(({ service, message }) => ({ service, message })), [{ service: 'GradingService', message: 'from the environment' }]);
  assert.throws(() => createServiceLogger({ service: 'GradingService', token: 'has a space' }), { code: 'INVALID_OPTION', message: /^option "token"/ });
});

test('a message with line breaks and control characters reaches a course-style log server as ONE line', WAITS, async (t) => {
  const { bodies, received, url } = await courseLogServer(t);
  const { client, shipper } = serviceLogger(t, { stdout: false });
  client.url = url;

  shipper.logger.info('real\n[Portal] - forged\r\nnul\u0000 bell\u0007 tab\t sep\u2028 end');
  while (bodies.length < 1) await once(received, 'log');

  assert.deepEqual(bodies, ['[GradingService] - real\\n[Portal] - forged\\r\\nnul\\u0000 bell\\u0007 tab\\t sep\\u2028 end\n']);
  assert.equal(bodies[0]!.split('\n').length, 2, 'one line and its terminating newline');
});

test('courseLine escapes control characters and leaves other text alone', () => {
  assert.equal(courseLine({ service: 'Portal', level: 'error', message: 'a\nb\u001b[31m é 日本' }), '[Portal] - ERROR a\\nb\\u001b[31m é 日本\n');
  assert.equal(escapeControls('plain [text] - ok'), 'plain [text] - ok');
  assert.equal(escapeControls('\u0085\u007f'), '\\u0085\\u007f');
});

/** A stand-in for the course's Go log service: POST /log only, each body kept as sent. */
async function courseLogServer(t: TestContext): Promise<{ bodies: string[]; received: EventEmitter; url: string }> {
  const bodies: string[] = [];
  const received = new EventEmitter();
  const url = await listen(t, (req, res) => {
    if (req.method !== 'POST' || req.url !== '/log') return res.writeHead(404).end('404 page not found\n');
    let body = '';
    req.setEncoding('utf8').on('data', (chunk) => (body += chunk)).on('end', () => {
      bodies.push(body);
      res.writeHead(200).end();
      received.emit('log');
    });
  });
  return { bodies, received, url };
}
