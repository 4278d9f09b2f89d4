// One contract for the registries a client talks to: the same client cases run against the fake
// registry that the other client tests use and against the real one, so that the fake cannot
// drift from what the registry does. Each runner file calls it with its own target.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage, RequestListener } from 'node:http';
import { RegistryClient, type ChangeEvent, type Logger, type RegistryClientOptions } from '../../../src/client/index.js';
import { instanceId } from '../../../src/protocol/index.js';
import type { TimerHandle } from '../../../src/shared/clock.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { listenLate, recordingLogger } from '../../helpers/fake-registry.js';

export interface ContractRegistry {
  url: string;
  /** The token clients send; null for a registry that takes none. */
  token: string | null;
  /** Method and URL of every request the registry received, in order. */
  requests(): string[];
  /** Cuts every open connection (watch streams too) and goes on listening. */
  dropConnections(): void;
}

export interface ContractTarget {
  /** Starts a new, empty registry; stops it when the test ends. */
  start(t: TestContext): Promise<ContractRegistry>;
}

/** Cases wait for events; one that never comes fails the case instead of hanging the run. */
const BOUNDED = { timeout: 10_000 };

const LOG_A = 'http://127.0.0.1:4001';
const LOG_B = 'http://127.0.0.1:4002';
/** Long-lived TTL instances (no heartbeat URL): nothing probes them, so their health stays passing. */
const TTL_MS = 600_000;
/** More than one keep-alive interval of the client (5 s, ± jitter): exactly one round. */
const ONE_ROUND_MS = 6_000;

/** A FakeClock that tells when a timer is set: the keep-alive loop sets one when a round ends. */
class RoundClock extends FakeClock {
  #waiters: Array<() => void> = [];

  override setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle = super.setTimeout(fn, ms);
    for (const resolve of this.#waiters.splice(0)) resolve();
    return handle;
  }

  /** Moves time by `ms` and waits until the round it started has scheduled the next one. */
  async round(ms: number): Promise<void> {
    const scheduled = new Promise<void>((resolve) => this.#waiters.push(resolve));
    await this.tick(ms);
    await scheduled;
  }
}

export function registryClientContract(target: ContractTarget): void {
  test('register: the answer gives the passing providers and the revision', BOUNDED, async (t) => {
    const registry = await target.start(t);
    await addInstance(registry, 'LogService', LOG_A);
    await addInstance(registry, 'LogService', LOG_B);
    await addInstance(registry, 'Portal', 'http://127.0.0.1:5000');
    const client = newClient(t, registry, { updateUrl: null });

    await client.register();

    assert.deepEqual([...client.providers('LogService')].sort(), [LOG_A, LOG_B]);
    assert.equal(client.lastRevision, (await state(registry)).revision);
  });

  test('a provider that comes and goes reaches a served client as signed patches', BOUNDED, async (t) => {
    const registry = await target.start(t);
    const logger = recordingLogger();
    const client = await servedClient(t, registry, logger);
    await client.register();
    assert.deepEqual(client.providers('LogService'), []);

    const added = nextChange(client);
    await addInstance(registry, 'LogService', LOG_A);
    assert.deepEqual(await added, { service: 'LogService', added: [LOG_A], removed: [], revision: 2 });
    assert.equal(client.verifiesSignatures, true);

    const removed = nextChange(client);
    await removeInstance(registry, LOG_A);
    assert.deepEqual(await removed, { service: 'LogService', added: [], removed: [LOG_A], revision: 3 });
    assert.deepEqual(client.providers('LogService'), []);
    // Nothing refused on the way: every patch carried a good signature.
    assert.deepEqual(logger.messages('warn'), []);
  });

  test('deregister: the instance is gone; again, or after the registry forgot it, is fine', BOUNDED, async (t) => {
    const registry = await target.start(t);
    const client = newClient(t, registry, { updateUrl: null });
    await client.register();
    assert.ok(await isRegistered(registry, client.options.url));

    await client.deregister();
    await client.deregister();
    assert.equal(await isRegistered(registry, client.options.url), false);

    await client.register();
    await removeInstance(registry, client.options.url);
    await client.deregister();
  });

  test('register with an update URL: the initial patch, signed, reaches it before register() resolves', BOUNDED, async (t) => {
    const registry = await target.start(t);
    await addInstance(registry, 'LogService', LOG_A);
    const logger = recordingLogger();
    const received: string[] = [];
    const client = await servedClient(t, registry, logger, (request) => received.push(`${request.method} ${request.url}`));

    await client.register();

    assert.deepEqual(received, ['POST /services']);
    assert.deepEqual(client.providers('LogService'), [LOG_A]);
    assert.equal(client.verifiesSignatures, true);
    assert.deepEqual(logger.messages('warn'), []);
  });

  test('a provider that deregisters through its own client reaches a dependent as a removal', BOUNDED, async (t) => {
    const registry = await target.start(t);
    const dependent = await servedClient(t, registry, recordingLogger());
    await dependent.register();
    const provider = newClient(t, registry, { service: 'LogService', url: LOG_A, requires: [], updateUrl: null });

    const added = nextChange(dependent);
    await provider.register();
    assert.deepEqual(await added, { service: 'LogService', added: [LOG_A], removed: [], revision: 2 });

    const removed = nextChange(dependent);
    await provider.deregister();
    assert.deepEqual(await removed, { service: 'LogService', added: [], removed: [LOG_A], revision: 3 });
  });

  test('TTL mode: the client renews at each round; renewing an instance that is probed is 409 NOT_TTL_INSTANCE', BOUNDED, async (t) => {
    const registry = await target.start(t);
    const clock = new RoundClock();
    const client = newClient(t, registry, { updateUrl: null, clock });
    await client.register();

    await clock.round(ONE_ROUND_MS);
    await clock.round(ONE_ROUND_MS);
    const renewals = registry.requests().filter((request) => request === `POST /v1/instances/${client.id}/renew`);
    assert.equal(renewals.length, 2, registry.requests().join('\n'));
    assert.ok(await isRegistered(registry, client.options.url));

    const probed = await call(registry, 'POST', '/v1/instances', { service: 'LogService', url: LOG_B, heartbeatUrl: `${LOG_B}/heartbeat` });
    assert.equal(probed.status, 201, await probed.text());
    const refused = await call(registry, 'POST', `/v1/instances/${encodeURIComponent(instanceId(LOG_B))}/renew`);
    assert.equal(refused.status, 409);
    assert.equal(((await refused.json()) as { code: string }).code, 'NOT_TTL_INSTANCE');
  });

  test('heartbeat mode: the keep-alive looks the instance up at each round', BOUNDED, async (t) => {
    const registry = await target.start(t);
    // Starts at the registry's time: the probes it signs are fresh by this clock.
    const clock = new RoundClock(Date.now());
    const logger = recordingLogger();
    const client = await servedClient(t, registry, logger, undefined, { clock, updateUrl: null, heartbeatUrl: undefined, ttlMs: undefined });
    await client.register();

    await clock.round(ONE_ROUND_MS);

    assert.ok(registry.requests().includes(`GET /v1/instances/${client.id}`), registry.requests().join('\n'));
    assert.ok(await isRegistered(registry, client.options.url));
    assert.deepEqual(logger.messages('warn'), []);
  });

  test('keep-alive: a registry that forgot the instance has it registered again at the next round', BOUNDED, async (t) => {
    const registry = await target.start(t);
    const clock = new RoundClock();
    const logger = recordingLogger();
    const client = newClient(t, registry, { updateUrl: null, clock, logger });
    await client.register();

    await removeInstance(registry, client.options.url);
    await clock.round(ONE_ROUND_MS);

    assert.ok(await isRegistered(registry, client.options.url));
    assert.ok(logger.messages('info').some((message) => message.endsWith(' again')), logger.messages('info').join('\n'));
  });

  test('watch mode: follows a provider; after a dropped stream it resumes from its last revision and catches up', BOUNDED, async (t) => {
    const registry = await target.start(t);
    const clock = new FakeClock();
    const logger = waitableLogger();
    const client = newClient(t, registry, { notifications: 'watch', updateUrl: null, clock, logger });
    await client.register();

    const added = nextChange(client);
    await addInstance(registry, 'LogService', LOG_A);
    assert.deepEqual(await added, { service: 'LogService', added: [LOG_A], removed: [], revision: 2 });

    const dropped = logger.next(/reconnecting in \d+ ms from revision 2/);
    registry.dropConnections();
    await dropped;
    await addInstance(registry, 'LogService', LOG_B);
    await removeInstance(registry, LOG_A);
    assert.deepEqual(client.providers('LogService'), [LOG_A], 'the last view is served meanwhile');

    const changes: ChangeEvent[] = [];
    client.on('change', (change) => changes.push(change));
    const caughtUp = new Promise<void>((resolve) => client.on('change', () => client.lastRevision === 4 && resolve()));
    // Past the first backoff (250 ms ± 20 %), short of the keep-alive round (5 s).
    await clock.tick(1_000);
    await caughtUp;

    assert.deepEqual(changes, [
      { service: 'LogService', added: [LOG_B], removed: [], revision: 3 },
      { service: 'LogService', added: [], removed: [LOG_A], revision: 4 },
    ]);
    assert.deepEqual(client.providers('LogService'), [LOG_B]);
    assert.ok(registry.requests().includes('GET /v1/watch?since=2&services=LogService'), registry.requests().join('\n'));
  });

  test('watch mode: a watcher that starts without a revision gets a snapshot of what it requires', BOUNDED, async (t) => {
    const registry = await target.start(t);
    await addInstance(registry, 'LogService', LOG_A);
    await addInstance(registry, 'Portal', 'http://127.0.0.1:5000');
    const client = newClient(t, registry, { notifications: 'watch', updateUrl: null, clock: new FakeClock() });

    await client.register();
    const answer = await call(registry, 'GET', '/v1/watch?services=LogService');
    assert.equal(answer.status, 200);
    assert.match(answer.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = answer.body?.getReader();
    t.after(() => reader?.cancel());
    const first = await firstEvent(reader);
    assert.equal(first.event, 'snapshot');
    assert.deepEqual((first.data as { instances: Array<{ url: string }> }).instances.map((i) => i.url), [LOG_A]);
    assert.equal((first.data as { revision: number }).revision, 3);
    assert.deepEqual(client.providers('LogService'), [LOG_A]);
  });

  test('course protocol: registers through /services, takes the initial patch, deregisters by URL', BOUNDED, async (t) => {
    const registry = await target.start(t);
    await addInstance(registry, 'LogService', LOG_A);
    const logger = recordingLogger();
    const received: string[] = [];
    const course = { protocol: 'course', ttlMs: undefined, heartbeatUrl: undefined } as const;
    const client = await servedClient(t, registry, logger, (request) => received.push(`${request.method} ${request.url}`), course);

    await client.register();
    assert.deepEqual(client.providers('LogService'), [LOG_A]);
    assert.ok(received.includes('POST /services'), received.join('\n'));
    assert.ok(await isRegistered(registry, client.options.url));
    assert.equal(client.verifiesSignatures, false, 'the course protocol has no signing key');

    await client.deregister();
    assert.equal(await isRegistered(registry, client.options.url), false);
    assert.ok(registry.requests().includes('DELETE /services'), registry.requests().join('\n'));
  });

  test('a lookup of an unknown instance is 404 INSTANCE_NOT_FOUND', BOUNDED, async (t) => {
    const registry = await target.start(t);
    const answer = await call(registry, 'GET', `/v1/instances/${encodeURIComponent(instanceId(LOG_A))}`);
    assert.equal(answer.status, 404);
    assert.equal(((await answer.json()) as { code: string }).code, 'INSTANCE_NOT_FOUND');
  });

  test('a registration the registry refuses is answered 400 INVALID_REQUEST naming the field', BOUNDED, async (t) => {
    const registry = await target.start(t);
    const answer = await call(registry, 'POST', '/v1/instances', { service: '9lives', url: LOG_A });
    assert.equal(answer.status, 400);
    const body = (await answer.json()) as { code: string; message: string };
    assert.equal(body.code, 'INVALID_REQUEST');
    assert.match(body.message, /"service"/);
  });
}

function newClient(t: TestContext, registry: ContractRegistry, options: Partial<RegistryClientOptions> = {}): RegistryClient {
  const client = new RegistryClient({
    service: 'GradingService', url: 'http://127.0.0.1:6000', requires: ['LogService'], registryUrl: registry.url,
    logger: recordingLogger(), heartbeatUrl: null, ttlMs: TTL_MS, ...(registry.token ? { token: registry.token } : {}), ...options,
  });
  t.after(() => client.close());
  return client;
}

/** A client answering on a real server, so the registry's patches reach it; `seen` hears each request first. */
async function servedClient(t: TestContext, registry: ContractRegistry, logger: Logger, seen?: (request: IncomingMessage) => void, options: Partial<RegistryClientOptions> = {}): Promise<RegistryClient> {
  const server = await listenLate();
  t.after(() => server.close());
  const client = newClient(t, registry, { url: server.url, logger, ...options });
  const listener: RequestListener = client.requestListener();
  server.use((request, response) => {
    seen?.(request);
    listener(request, response);
  });
  return client;
}

/** A logger that lets a case wait for a message. */
function waitableLogger(): Logger & { next(pattern: RegExp): Promise<string> } {
  const waiters: Array<{ pattern: RegExp; resolve: (message: string) => void }> = [];
  const log = (message: object | string): void => {
    if (typeof message !== 'string') return;
    for (const waiter of waiters.filter((w) => w.pattern.test(message))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(message);
    }
  };
  return { info: log, warn: log, error: log, debug: log, next: (pattern) => new Promise((resolve) => waiters.push({ pattern, resolve })) };
}

/** The first event of a text/event-stream body: its name and its data. */
async function firstEvent(reader: ReadableStreamDefaultReader<Uint8Array> | undefined): Promise<{ event: string; data: unknown }> {
  assert.ok(reader, 'the answer has no body');
  const decoder = new TextDecoder();
  let text = '';
  while (!text.includes('\n\n')) {
    const { value, done } = await reader.read();
    assert.ok(!done, `the stream ended before its first event: ${text}`);
    text += decoder.decode(value, { stream: true });
  }
  const block = text.split('\n\n')[0] ?? '';
  const field = (name: string): string => block.split('\n').find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2) ?? '';
  return { event: field('event'), data: JSON.parse(field('data')) as unknown };
}

const nextChange = async (client: RegistryClient): Promise<ChangeEvent> => ((await once(client, 'change')) as [ChangeEvent])[0];

/** Another service registers, through the API as a client of its own would. */
async function addInstance(registry: ContractRegistry, service: string, url: string): Promise<void> {
  const answer = await call(registry, 'POST', '/v1/instances', { service, url, ttlMs: TTL_MS });
  assert.equal(answer.status, 201, await answer.text());
}

async function removeInstance(registry: ContractRegistry, url: string): Promise<void> {
  const answer = await call(registry, 'DELETE', `/v1/instances/${encodeURIComponent(instanceId(url))}`);
  assert.equal(answer.status, 200, await answer.text());
}

async function state(registry: ContractRegistry): Promise<{ revision: number; instances: Array<{ url: string }> }> {
  const answer = await call(registry, 'GET', '/v1/state');
  assert.equal(answer.status, 200);
  return (await answer.json()) as { revision: number; instances: Array<{ url: string }> };
}

async function isRegistered(registry: ContractRegistry, url: string): Promise<boolean> {
  return (await state(registry)).instances.some((instance) => instance.url === url);
}

function call(registry: ContractRegistry, method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = registry.token ? { authorization: `Bearer ${registry.token}` } : {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(`${registry.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}
