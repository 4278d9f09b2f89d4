// One contract for the registries a client talks to: the same client cases run against the fake
// registry that the other client tests use and against the real one, so that the fake cannot
// drift from what the registry does. Each runner file calls it with its own target.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { RegistryClient, type ChangeEvent, type Logger, type RegistryClientOptions } from '../../../src/client/index.js';
import { instanceId } from '../../../src/protocol/index.js';
import { listenLate, recordingLogger } from '../../helpers/fake-registry.js';

export interface ContractRegistry {
  url: string;
  /** The token clients send; null for a registry that takes none. */
  token: string | null;
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

/** A client answering on a real server, so the registry's patches reach it. */
async function servedClient(t: TestContext, registry: ContractRegistry, logger: Logger): Promise<RegistryClient> {
  const server = await listenLate();
  t.after(() => server.close());
  const client = newClient(t, registry, { url: server.url, logger });
  server.use(client.requestListener());
  return client;
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
