// The flood of issue 12 on a real registry (HTTP on port 0, SQLite store): dependents whose
// update URLs refuse connections, and many changes of the service they require. The outbox stays
// within its bounds in memory and in the store, /metrics counts the shrinks and give-ups with a
// bounded number of series, and a dependent that comes back ends with the registry's state.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { RegistryClient } from '../../../src/client/index.js';
import type { Registry } from '../../../src/registry/registry.js';
import { startRegistry, type RunningRegistry } from '../../../src/registry/start-registry.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { freePort, listenLate, recordingLogger } from '../../helpers/fake-registry.js';
import { scratchDir } from '../../helpers/processes.js';

const DEAD_DEPENDENTS = 40;
const CHANGES = 100;
const LIMITS = { outboxBytesPerSubscriber: 1024, outboxBytesTotal: 32 * 1024, subscriberGiveUpMs: 10_000, maxMetricSeries: 10 };
const NOTIFY = { retryBaseMs: 1_000, retryMaxMs: 1_000 };

async function call(running: RunningRegistry, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const headers: Record<string, string> = { authorization: `Bearer ${running.adminToken}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const answer = await fetch(`${running.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await answer.text();
  return { status: answer.status, json: text.startsWith('{') ? JSON.parse(text) : text };
}

async function register(running: RunningRegistry, body: Record<string, unknown>): Promise<string> {
  const { status, json } = await call(running, 'POST', '/v1/instances', { ttlMs: 600_000, ...body });
  assert.ok(status === 200 || status === 201, JSON.stringify(json));
  return (json as { instance: { id: string } }).instance.id;
}

async function metric(running: RunningRegistry, pattern: RegExp): Promise<string[]> {
  const { json } = await call(running, 'GET', '/metrics');
  return String(json).split('\n').filter((line) => pattern.test(line));
}

function valueOf(lines: string[], labels: string): number {
  const line = lines.find((l) => l.includes(labels));
  return line === undefined ? Number.NaN : Number(line.split(' ').at(-1));
}

function outboxRows(dataDir: string): number {
  const db = new Database(join(dataDir, 'registry.db'), { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

async function startFloodedRegistry(t: TestContext) {
  const clock = new FakeClock();
  const dataDir = scratchDir(t, 'roster-flood-');
  const running = await startRegistry({ host: '127.0.0.1', port: 0, store: 'sqlite', dataDir, clock, limits: LIMITS, notify: NOTIFY });
  t.after(() => running.close());
  return { clock, dataDir, running, registry: running.registry as Registry };
}

test('a flood of patches to dependents that refuse stays bounded, and a dependent that comes back gets the state', { timeout: 120_000 }, async (t) => {
  const { clock, dataDir, running, registry } = await startFloodedRegistry(t);

  // One dependent is a Roster client whose update URL answers 503 until it comes back.
  const late = await listenLate();
  t.after(() => late.close());
  const client = new RegistryClient({ service: 'Returning', url: late.url, requires: ['Provider'], registryUrl: running.url, token: running.adminToken ?? undefined, clock: new FakeClock(), logger: recordingLogger() });
  t.after(() => client.close());
  await client.register();

  const dead = await freePort();
  const deadUpdateUrls: string[] = [];
  for (let i = 0; i < DEAD_DEPENDENTS; i++) {
    const url = `http://127.0.0.1:${dead}/dependent/${i}`;
    deadUpdateUrls.push(`${url}/services`);
    await register(running, { service: 'Dependent', url, requires: ['Provider'], updateUrl: `${url}/services` });
  }
  const deadIds = registry.instances().filter((record) => record.service === 'Dependent').map((record) => record.id);

  let mostBytes = 0;
  const providers: string[] = [];
  for (let change = 0; change < CHANGES; change++) {
    if (change % 3 === 2) {
      const gone = providers.shift() as string;
      await call(running, 'DELETE', `/v1/instances/${encodeURIComponent(registry.instances().find((r) => r.url === gone)?.id ?? '')}`);
    } else {
      const url = `http://127.0.0.1:${dead}/provider/${change}`;
      providers.push(url);
      await register(running, { service: 'Provider', url });
    }
    mostBytes = Math.max(mostBytes, registry.notificationBytes());
    for (const target of deadUpdateUrls) assert.ok(registry.pendingNotifications(target) < 40, 'no queue grows with the changes');
  }
  await registry.persisted();

  assert.ok(mostBytes <= LIMITS.outboxBytesTotal, `queued ${mostBytes} bytes, bound ${LIMITS.outboxBytesTotal}`);
  const pending = [...registry.notificationQueues().values()].reduce((sum, depth) => sum + depth, 0);
  assert.equal(outboxRows(dataDir), pending, 'the store holds what the notifier holds, no more');
  const rejections = await metric(running, /^roster_limit_rejections_total/);
  assert.ok(valueOf(rejections, 'limit="outboxBytesPerSubscriber"') > 0, rejections.join('\n'));
  assert.ok(valueOf(rejections, 'limit="outboxBytesTotal"') > 0, rejections.join('\n'));
  const depths = await metric(running, /^roster_notification_queue_depth\{/);
  assert.equal(depths.length, LIMITS.maxMetricSeries, `${DEAD_DEPENDENTS + 1} subscribers, ${LIMITS.maxMetricSeries} series`);
  assert.ok(depths.some((line) => line.includes('subscriber="other"')));

  // The Roster dependent comes back: its next retry brings the gap, and it reads the state.
  const changed = once(client, 'change');
  late.use(client.requestListener());
  await clock.tick(2 * NOTIFY.retryMaxMs); // the longest backoff, jitter included
  await changed;
  assert.deepEqual([...client.providers('Provider')].sort(), [...providers].sort());
  assert.equal(client.lastRevision, registry.revision);

  // The dead ones fail for longer than subscriberGiveUpMs: given up, their queues dropped.
  await clock.tick(LIMITS.subscriberGiveUpMs + 2 * NOTIFY.retryMaxMs);
  const afterGiveUp = await metric(running, /^roster_limit_rejections_total\{limit="subscriberGiveUpMs"\}/);
  assert.equal(valueOf(afterGiveUp, 'subscriberGiveUpMs'), DEAD_DEPENDENTS);
  for (const target of deadUpdateUrls) assert.equal(registry.pendingNotifications(target), 0);
  await register(running, { service: 'Provider', url: `http://127.0.0.1:${dead}/provider/late` });
  for (const target of deadUpdateUrls) assert.equal(registry.pendingNotifications(target), 0, 'nothing is queued for a given-up dependent');
  await registry.persisted();
  assert.equal(outboxRows(dataDir), registry.notificationQueues().size, 'in the store: at most the patch on its way to the Roster dependent');

  // One renews: heard from again, it gets one whole patch, and is retried again.
  const { status } = await call(running, 'POST', `/v1/instances/${encodeURIComponent(deadIds[0] ?? '')}/renew`);
  assert.equal(status, 200);
  assert.equal(registry.pendingNotifications(deadUpdateUrls[0] ?? ''), 1);
});
