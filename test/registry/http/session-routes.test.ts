import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { Agent, request as send, type Dispatcher } from 'undici';
import { startRegistry } from '../../../src/registry/start-registry.js';
import type { RegistryChange } from '../../../src/registry/registry-api.js';
import { FakeClock, flushMicrotasks } from '../../helpers/fake-clock.js';

async function setup(t: TestContext, limits: { maxSessions?: number } = {}) {
  const clock = new FakeClock();
  // Our own agent, destroyed first: a kept-alive socket would hold up the server's close.
  const agent = new Agent();
  const request: Send = (url, options = {}) => send(url, { ...options, dispatcher: agent });
  const running = await startRegistry({ host: '127.0.0.1', port: 0, store: 'memory', auth: { insecure: true }, course: { enabled: false }, clock, limits });
  t.after(async () => {
    await agent.destroy();
    await running.close();
  });
  const register = async (body: object) => {
    const answer = await request(`${running.url}/v1/instances`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: answer.statusCode, body: (await answer.body.json()) as { instance: { id: string; liveness: string }; code?: string; message?: string } };
  };
  return { clock, running, register, request };
}

type Send = (url: string, options?: Omit<Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & { method?: Dispatcher.HttpMethod }) => ReturnType<typeof send>;

/** Opens the session stream of `id`; `lines` collects what the registry writes on it. */
async function openSession(request: Send, base: string, id: string) {
  const stop = new AbortController();
  const response = await request(`${base}/v1/instances/${id}/session`, { signal: stop.signal, bodyTimeout: 0 });
  const lines: Array<Record<string, unknown>> = [];
  let buffered = '';
  response.body.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const part of parts) lines.push(JSON.parse(part) as Record<string, unknown>);
  });
  response.body.on('error', () => {});
  return { status: response.statusCode, lines, close: () => stop.abort() };
}

/** Waits, without sleeping, until `done()` holds: each round lets pending I/O callbacks run. */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await flushMicrotasks();
}

function nextChange(running: { registry: NodeJS.EventEmitter }, type: RegistryChange['type']): Promise<RegistryChange> {
  return new Promise((resolve) => {
    const listener = (change: RegistryChange) => {
      if (change.type !== type) return;
      running.registry.off('change', listener);
      resolve(change);
    };
    running.registry.on('change', listener);
  });
}

test('a session: open line, pings every sessionPingMs, answered; closed → critical after the grace; reopened → passing', async (t) => {
  const { clock, running, register, request } = await setup(t);
  const { status, body } = await register({ service: 'S', url: 'http://127.0.0.1:9/s', liveness: 'session' });
  assert.equal(status, 201);
  assert.equal(body.instance.liveness, 'session');
  const id = body.instance.id;

  const session = await openSession(request, running.url, id);
  assert.equal(session.status, 200);
  await until(() => session.lines.length >= 1);
  assert.deepEqual(session.lines[0], { type: 'open', token: 1, pingMs: 1000, stallMs: 3000, graceMs: 500 });
  await clock.tick(1000);
  await until(() => session.lines.length >= 2);
  // With a 3 s stall limit, every second ping asks for an answer.
  assert.deepEqual(session.lines[1], { type: 'ping', answer: false });
  await clock.tick(1000);
  await until(() => session.lines.length >= 3);
  assert.deepEqual(session.lines[2], { type: 'ping' });
  const ping = await request(`${running.url}/v1/instances/${id}/session/ping?token=1`, { method: 'POST' });
  assert.deepEqual(await ping.body.json(), { connected: true });

  const critical = nextChange(running, "critical");
  session.close();
  await until(() => running.registry.sessions?.count === 0);
  await clock.tick(499);
  assert.equal(running.registry.instance(id).health, 'passing');
  await clock.tick(1);
  const change = await critical;
  assert.equal(change.instance.id, id);
  assert.match(change.instance.lastError ?? '', /session closed; no new session within 500 ms/);

  const passing = nextChange(running, 'passing');
  const again = await openSession(request, running.url, id);
  await passing;
  assert.equal(running.registry.instance(id).health, 'passing');
  again.close();
});

test('a session is refused for an unknown instance, a probed one, and beyond limits.maxSessions', async (t) => {
  const { running, register, request } = await setup(t, { maxSessions: 1 });
  const unknown = await request(`${running.url}/v1/instances/nosuchinstance/session`);
  assert.equal(unknown.statusCode, 404);
  assert.equal(((await unknown.body.json()) as { code: string }).code, 'INSTANCE_NOT_FOUND');

  const probed = await register({ service: 'P', url: 'http://127.0.0.1:9/p', heartbeatUrl: 'http://127.0.0.1:9/p/heartbeat' });
  const refused = await request(`${running.url}/v1/instances/${probed.body.instance.id}/session`);
  assert.equal(refused.statusCode, 400);
  assert.match(((await refused.body.json()) as { message: string }).message, /liveness 'session'/);

  const first = await register({ service: 'S', url: 'http://127.0.0.1:9/a', liveness: 'session' });
  const second = await register({ service: 'S', url: 'http://127.0.0.1:9/b', liveness: 'session' });
  const held = await openSession(request, running.url, first.body.instance.id);
  assert.equal(held.status, 200);
  const over = await request(`${running.url}/v1/instances/${second.body.instance.id}/session`);
  assert.equal(over.statusCode, 429);
  assert.equal(((await over.body.json()) as { code: string }).code, 'LIMIT_REACHED');
  held.close();
});

test('a session registration takes neither heartbeatUrl nor ttlMs; liveness is probe or session', async (t) => {
  const { register } = await setup(t);
  const withHeartbeat = await register({ service: 'S', url: 'http://127.0.0.1:9/s', liveness: 'session', heartbeatUrl: 'http://127.0.0.1:9/s/heartbeat' });
  assert.equal(withHeartbeat.status, 400);
  assert.match(withHeartbeat.body.message ?? '', /liveness/);
  const withTtl = await register({ service: 'S', url: 'http://127.0.0.1:9/s', liveness: 'session', ttlMs: 5000 });
  assert.equal(withTtl.status, 400);
  const other = await register({ service: 'S', url: 'http://127.0.0.1:9/s', liveness: 'tcp' });
  assert.equal(other.status, 400);
  const probe = await register({ service: 'S', url: 'http://127.0.0.1:9/s' });
  assert.equal(probe.body.instance.liveness, 'probe');
});
