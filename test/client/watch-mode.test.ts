// A client with notifications 'watch' against a real registry: no update URL, its view kept by
// GET /v1/watch, reconnecting from its last revision when the stream drops.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { RegistryClient, type ChangeEvent, type Logger } from '../../src/client/index.js';
import { SseParser, type SseEvent } from '../../src/client/watch-stream.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { RecordingService } from '../helpers/recording-service.js';
import { startRegistry, type RunningRegistry, type StartRegistryOptions } from '../../src/registry/start-registry.js';

/** Tests wait for events; one that never comes fails the test instead of hanging the run. */
const BOUNDED = { timeout: 20_000 };

// Probes every 50 ms, one failed probe turns an instance critical: health changes come fast.
const FAST_HEALTH = { intervalMs: 50, jitter: 0, timeoutMs: 500, attempts: 1, retryDelayMs: 0 };

/** A logger that lets a test wait for a message. */
function waitableLogger(): Logger & { next(pattern: RegExp): Promise<string> } {
  const waiters: Array<{ pattern: RegExp; resolve: (message: string) => void }> = [];
  const log = (message: string): void => {
    for (const waiter of waiters.filter((w) => w.pattern.test(message))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(message);
    }
  };
  return { info: log, warn: log, error: log, debug: log, next: (pattern) => new Promise((resolve) => waiters.push({ pattern, resolve })) };
}

/** A registry as users start one (authentication off), with the method and URL of every request it received. */
async function startWatchedRegistry(t: TestContext, options: StartRegistryOptions = {}): Promise<RunningRegistry & { requests: string[] }> {
  const running = await startRegistry({ host: '127.0.0.1', port: 0, auth: { insecure: true }, ...options });
  t.after(() => running.close());
  const requests: string[] = [];
  running.app.server.on('request', (request: IncomingMessage) => void requests.push(`${request.method} ${request.url}`));
  return { ...running, requests };
}

async function setup(t: TestContext) {
  const server = await startWatchedRegistry(t, { health: FAST_HEALTH });
  const clock = new FakeClock();
  const logger = waitableLogger();
  const client = new RegistryClient({
    service: 'Portal',
    url: 'http://127.0.0.1:1',
    requires: ['GradingService'],
    registryUrl: server.url,
    notifications: 'watch',
    // Nothing reaches a watcher: it renews itself instead of being probed.
    heartbeatUrl: null,
    ttlMs: 600_000,
    clock,
    logger,
  });
  t.after(() => client.close());
  return { server, client, clock, logger };
}

async function startProvider(t: TestContext, registryUrl: string): Promise<RecordingService> {
  const provider = await RecordingService.start();
  t.after(() => provider.close());
  const answer = await fetch(`${registryUrl}/v1/instances`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ service: 'GradingService', url: provider.url, heartbeatUrl: `${provider.url}/heartbeat` }),
  });
  assert.equal(answer.status, 201);
  return provider;
}

const nextChange = async (client: RegistryClient): Promise<ChangeEvent> => ((await once(client, 'change')) as [ChangeEvent])[0];

test('registers without an update URL and follows a provider: registered, critical, passing, deregistered', BOUNDED, async (t) => {
  const { server, client } = await setup(t);
  await client.register();
  assert.equal(server.registry.instance(client.id).updateUrl, null);

  let change = nextChange(client);
  const provider = await startProvider(t, server.url);
  assert.deepEqual(await change, { service: 'GradingService', added: [provider.url], removed: [], revision: 2 });
  assert.deepEqual(client.providers('GradingService'), [provider.url]);

  change = nextChange(client);
  provider.heartbeat = 503;
  assert.deepEqual(await change, { service: 'GradingService', added: [], removed: [provider.url], revision: 3 });

  change = nextChange(client);
  provider.heartbeat = 200;
  assert.deepEqual(await change, { service: 'GradingService', added: [provider.url], removed: [], revision: 4 });

  change = nextChange(client);
  server.registry.deregisterByUrl(provider.url);
  assert.deepEqual(await change, { service: 'GradingService', added: [], removed: [provider.url], revision: 5 });
  assert.deepEqual(client.providers('GradingService'), []);
  // The stream asked only for what the client requires, from the revision of its registration.
  assert.ok(server.requests.includes('GET /v1/watch?since=1&services=GradingService'), server.requests.join('\n'));
});

test('a dropped stream: the last view is served meanwhile, then it reconnects from its last revision and catches up', BOUNDED, async (t) => {
  const { server, client, clock, logger } = await setup(t);
  await client.register();
  const added = nextChange(client);
  const first = await startProvider(t, server.url);
  await added;

  const dropped = logger.next(/reconnecting in \d+ ms from revision 2/);
  server.app.server.closeAllConnections();
  await dropped;
  const second = await startProvider(t, server.url);
  server.registry.deregisterByUrl(first.url);
  assert.deepEqual(client.providers('GradingService'), [first.url]);

  const changes: ChangeEvent[] = [];
  client.on('change', (change) => changes.push(change));
  const caughtUp = new Promise<void>((resolve) => client.on('change', () => client.lastRevision === 4 && resolve()));
  // Past the first backoff (250 ms ± 20 %), short of the keep-alive round (5 s).
  await clock.tick(1_000);
  await caughtUp;

  assert.deepEqual(changes, [
    { service: 'GradingService', added: [second.url], removed: [], revision: 3 },
    { service: 'GradingService', added: [], removed: [first.url], revision: 4 },
  ]);
  assert.deepEqual(client.providers('GradingService'), [second.url]);
  assert.equal(server.requests.filter((r) => r === 'GET /v1/watch?since=2&services=GradingService').length, 1);
});

test('after a registry restart (its revisions start again), the snapshot it sends rebuilds the view', BOUNDED, async (t) => {
  const { server, client, clock, logger } = await setup(t);
  await client.register();
  const added = nextChange(client);
  const first = await startProvider(t, server.url);
  await added;
  assert.equal(client.lastRevision, 2);

  const dropped = logger.next(/reconnecting in/);
  await server.app.close();
  await dropped;
  const restarted = await startWatchedRegistry(t, { port: Number(new URL(server.url).port) });
  const second = await startProvider(t, restarted.url);

  const rebuilt = nextChange(client);
  await clock.tick(1_000);
  // Revision 1 of the new registry is below the 2 the client saw: a snapshot still wins.
  assert.deepEqual(await rebuilt, { service: 'GradingService', added: [second.url], removed: [first.url], revision: 1 });
  assert.equal(client.lastRevision, 1);
});

test('options: watch mode refuses an update URL and the course protocol', BOUNDED, () => {
  const base = { service: 'Portal', url: 'http://127.0.0.1:1', notifications: 'watch' as const };
  assert.throws(() => new RegistryClient({ ...base, updateUrl: 'http://127.0.0.1:1/services' }), /option "updateUrl"/);
  assert.throws(() => new RegistryClient({ ...base, protocol: 'course' }), /option "notifications"/);
  assert.equal(new RegistryClient(base).options.updateUrl, null);
});

test('the SSE reader: events split across chunks anywhere, CRLF or LF, comments, multi-line data', BOUNDED, () => {
  const text = ': hello\r\nevent: change\r\nid: 7\r\ndata: {"a":\r\ndata: 1}\r\n\r\nevent: snapshot\nid: 8\ndata: {}\n\n: keep-alive\n\ndata:x\n\n';
  for (let size = 1; size <= text.length; size++) {
    const events: SseEvent[] = [];
    const parser = new SseParser((event) => events.push(event));
    for (let at = 0; at < text.length; at += size) parser.push(text.slice(at, at + size));
    assert.deepEqual(events, [
      { event: 'change', id: '7', data: '{"a":\n1}' },
      { event: 'snapshot', id: '8', data: '{}' },
      { event: 'message', id: '8', data: 'x' },
    ], `chunks of ${size}`);
  }
});
