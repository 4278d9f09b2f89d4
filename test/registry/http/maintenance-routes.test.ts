// Maintenance through /v1 on a real registry: an instance (or a whole service) taken out of its
// dependents' view by its owner or an admin, at once or after a drain, kept across restarts and
// re-registrations, and put back.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startRegistry, type RunningRegistry, type StartRegistryOptions } from '../../../src/registry/start-registry.js';
import type { InstanceView } from '../../../src/protocol/v1.js';
import type { NotifierEvent } from '../../../src/registry/notify/notifier.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { RecordingService } from '../../helpers/recording-service.js';

const TOKENS = {
  logOwner: 'log-owner-secret-0123',
  stranger: 'stranger-secret-01234',
  reader: 'reader-secret-0123456',
  app: 'app-secret-0123456789',
};
const TOKENS_FILE = {
  tokens: [
    { name: 'log-owner', secret: TOKENS.logOwner, scopes: ['register' as const], services: ['Log'] },
    { name: 'stranger', secret: TOKENS.stranger, scopes: ['register' as const] },
    { name: 'reader', secret: TOKENS.reader, scopes: ['read' as const] },
    { name: 'app', secret: TOKENS.app, scopes: ['register' as const], services: ['App'] },
  ],
};

interface Answer {
  status: number;
  body: { code?: string; message?: string; instance?: InstanceView; instances?: InstanceView[] } & Record<string, unknown>;
}

async function call(running: RunningRegistry, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, token: string, json?: unknown): Promise<Answer> {
  const answer = await request(`${running.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(json === undefined ? {} : { 'content-type': 'application/json' }) },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  return { status: answer.statusCode, body: (await answer.body.json()) as Answer['body'] };
}

/** A scratch folder holding the tokens file (and, for SQLite, the registry's state). */
function scratch(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'roster-maint-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'tokens.json'), JSON.stringify(TOKENS_FILE), { mode: 0o600 });
  return dir;
}

function options(dir: string, more: StartRegistryOptions = {}): StartRegistryOptions {
  return { host: '127.0.0.1', port: 0, health: { intervalMs: 60_000 }, auth: { tokensFile: join(dir, 'tokens.json') }, ...more };
}

async function start(t: TestContext, more: StartRegistryOptions = {}, dir = scratch(t)): Promise<RunningRegistry> {
  const running = await startRegistry(options(dir, more));
  t.after(() => running.close());
  return running;
}

async function recorder(t: TestContext): Promise<RecordingService> {
  const service = await RecordingService.start();
  t.after(() => service.close());
  return service;
}

/** Registers `service` at the recorder's URL with `token`; returns the instance. */
async function register(running: RunningRegistry, at: RecordingService, service: string, token: string, requires: string[] = []): Promise<InstanceView> {
  const answer = await call(running, 'POST', '/v1/instances', token, { service, url: at.url, requires, updateUrl: `${at.url}/services`, heartbeatUrl: `${at.url}/heartbeat` });
  assert.ok(answer.status === 200 || answer.status === 201, JSON.stringify(answer.body));
  return answer.body.instance as InstanceView;
}

const removes = (url: string) => (service: RecordingService) => service.patches.some((patch) => patch.Removed.some((entry) => entry.URL === url));
const addsAfterRemoval = (url: string) => (service: RecordingService) => {
  const removedAt = service.patches.findIndex((patch) => patch.Removed.some((entry) => entry.URL === url));
  return removedAt >= 0 && service.patches.slice(removedAt + 1).some((patch) => patch.Added.some((entry) => entry.URL === url));
};

/** A registry with Log (owned by log-owner) and App, which requires Log and has received its first patch. */
async function logAndApp(t: TestContext, options: StartRegistryOptions = {}) {
  const running = await start(t, options);
  const log = await recorder(t);
  const app = await recorder(t);
  const logInstance = await register(running, log, 'Log', TOKENS.logOwner);
  await register(running, app, 'App', TOKENS.app, ['Log']);
  await app.waitFor((service) => service.patches.some((patch) => patch.Added.some((entry) => entry.URL === log.url)));
  return { running, log, app, logInstance };
}

test("the owner puts its instance in maintenance: the dependent is told Removed, the views show why; off adds it back", async (t) => {
  const { running, log, app, logInstance } = await logAndApp(t);
  const path = `/v1/instances/${logInstance.id}/maintenance`;

  const on = await call(running, 'PUT', path, TOKENS.logOwner, { reason: 'deploy 1.5.0' });
  assert.equal(on.status, 200);
  assert.deepEqual({ ...on.body.instance?.maintenance, since: undefined }, { reason: 'deploy 1.5.0', since: undefined, by: 'log-owner', scope: 'instance', drainUntil: null, draining: false });
  await app.waitFor(removes(log.url));

  const viewed = await call(running, 'GET', `/v1/instances/${logInstance.id}`, TOKENS.reader);
  assert.equal(viewed.body.instance?.maintenance?.reason, 'deploy 1.5.0');
  assert.equal(viewed.body.instance?.health, 'passing', 'it stays registered, with its health');
  const metrics = await request(`${running.url}/metrics`, { headers: { authorization: `Bearer ${running.adminToken}` } });
  assert.match(await metrics.body.text(), /roster_instances_in_maintenance\{service="Log"\} 1/);

  const off = await call(running, 'DELETE', path, TOKENS.logOwner);
  assert.equal(off.status, 200);
  assert.equal(off.body.instance?.maintenance, null);
  await app.waitFor(addsAfterRemoval(log.url));
});

test('a stranger gets 409 NOT_OWNER, a read token 403, a bad reason 400; a service needs an admin or a token limited to it', async (t) => {
  const { running, logInstance } = await logAndApp(t);
  const path = `/v1/instances/${logInstance.id}/maintenance`;
  assert.equal((await call(running, 'PUT', path, TOKENS.stranger, { reason: 'mine now' })).body.code, 'NOT_OWNER');
  assert.equal((await call(running, 'PUT', path, TOKENS.stranger, { reason: 'mine now' })).status, 409);
  assert.equal((await call(running, 'DELETE', path, TOKENS.stranger)).status, 409);
  assert.equal((await call(running, 'PUT', path, TOKENS.reader, { reason: 'x' })).status, 403);
  for (const body of [{}, { reason: '' }, { reason: 'a\nb' }, { reason: 'x'.repeat(201) }, { reason: 'ok', drainMs: -1 }, { reason: 'ok', drainMs: 3_600_001 }, { reason: 'ok', extra: 1 }]) {
    const answer = await call(running, 'PUT', path, TOKENS.logOwner, body);
    assert.equal(answer.status, 400, JSON.stringify(body));
    assert.equal(answer.body.code, 'INVALID_REQUEST');
  }
  assert.equal((await call(running, 'PUT', '/v1/instances/nosuchinstance/maintenance', TOKENS.logOwner, { reason: 'x' })).body.code, 'INSTANCE_NOT_FOUND');
  assert.equal((await call(running, 'PUT', '/v1/services/Log/maintenance', TOKENS.stranger, { reason: 'x' })).status, 403, 'a token for any service is not enough');
  assert.equal((await call(running, 'PUT', '/v1/services/Log/maintenance', TOKENS.app, { reason: 'x' })).status, 403);
  assert.equal((await call(running, 'PUT', '/v1/services/Log/maintenance', TOKENS.logOwner, { reason: 'x' })).status, 200);
  assert.equal((await call(running, 'DELETE', '/v1/services/Log/maintenance', running.adminToken as string)).status, 200);
  const admin = await call(running, 'PUT', path, running.adminToken as string, { reason: 'by the operator' });
  assert.equal(admin.body.instance?.maintenance?.by, 'admin');
});

test('with drainMs the dependent is told Removed only once the drain time has passed', async (t) => {
  const clock = new FakeClock();
  const { running, log, app, logInstance } = await logAndApp(t, { clock });
  const removals: NotifierEvent[] = [];
  running.registry.on('notification', (event) => {
    if (event.type === 'enqueued' && event.patch.Removed.some((entry) => entry.URL === log.url)) removals.push(event);
  });

  const on = await call(running, 'PUT', `/v1/instances/${logInstance.id}/maintenance`, TOKENS.logOwner, { reason: 'deploy', drainMs: 5_000 });
  assert.equal(on.body.instance?.maintenance?.draining, true);
  assert.equal(on.body.instance?.maintenance?.drainUntil, new Date(clock.now() + 5_000).toISOString());
  await clock.tick(4_999);
  assert.equal(removals.length, 0, 'still in rotation while draining');
  await clock.tick(1);
  assert.equal(removals.length, 1);
  await app.waitFor(removes(log.url));
  const viewed = await call(running, 'GET', `/v1/instances/${logInstance.id}`, TOKENS.reader);
  assert.equal(viewed.body.instance?.maintenance?.draining, false);
});

test('maintenance survives a restart on SQLite and a re-registration by its client; a service in maintenance stays so', async (t) => {
  const dataDir = scratch(t);
  const log = await recorder(t);
  const other = await recorder(t);
  const first = await startRegistry(options(dataDir, { store: 'sqlite', dataDir }));
  const logInstance = await register(first, log, 'Log', TOKENS.logOwner);
  assert.equal((await call(first, 'PUT', `/v1/instances/${logInstance.id}/maintenance`, TOKENS.logOwner, { reason: 'disk swap' })).status, 200);
  assert.equal((await call(first, 'PUT', '/v1/services/Other/maintenance', first.adminToken as string, { reason: 'migration' })).status, 200);
  await first.close();

  const second = await start(t, { store: 'sqlite', dataDir }, dataDir);
  const restored = await call(second, 'GET', `/v1/instances/${logInstance.id}`, TOKENS.reader);
  assert.equal(restored.body.instance?.maintenance?.reason, 'disk swap');
  const again = await register(second, log, 'Log', TOKENS.logOwner);
  assert.equal(again.maintenance?.reason, 'disk swap', 'registering again does not end it');
  const otherInstance = await register(second, other, 'Other', second.adminToken as string);
  assert.deepEqual([otherInstance.maintenance?.scope, otherInstance.maintenance?.reason], ['service', 'migration']);
});

test('service-wide maintenance applies to an instance registered later, which dependents never see until it ends', async (t) => {
  const running = await start(t);
  const app = await recorder(t);
  const log = await recorder(t);
  await register(running, app, 'App', TOKENS.app, ['Log']);
  const on = await call(running, 'PUT', '/v1/services/Log/maintenance', TOKENS.logOwner, { reason: 'schema migration' });
  assert.deepEqual([on.status, on.body.instances], [200, []]);
  const logInstance = await register(running, log, 'Log', TOKENS.logOwner);
  assert.deepEqual([logInstance.maintenance?.scope, logInstance.maintenance?.by], ['service', 'log-owner']);
  // The instance's own "off" leaves it in its service's maintenance.
  const own = await call(running, 'DELETE', `/v1/instances/${logInstance.id}/maintenance`, TOKENS.logOwner);
  assert.equal(own.body.instance?.maintenance?.scope, 'service');
  assert.equal(app.patches.some((patch) => patch.Added.some((entry) => entry.URL === log.url)), false);

  const off = await call(running, 'DELETE', '/v1/services/Log/maintenance', TOKENS.logOwner);
  assert.equal(off.status, 200);
  assert.equal(off.body.instances?.[0]?.maintenance, null);
  await app.waitFor((service) => service.patches.some((patch) => patch.Added.some((entry) => entry.URL === log.url)));
});
