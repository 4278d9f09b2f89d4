// The registry's Prometheus metrics, read the way Prometheus reads them: as scraped text.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import type { Registration } from '../../src/registry/catalog.js';
import { metricsRoutes } from '../../src/registry/http/metrics-routes.js';
import { createRegistryMetrics, type RegistryMetricsOptions } from '../../src/registry/metrics.js';
import { Registry } from '../../src/registry/registry.js';
import { FakeClock } from '../helpers/fake-clock.js';

// One probe per round, a round every second, critical after one failed round.
const HEALTH = { intervalMs: 1000, jitter: 0, timeoutMs: 500, attempts: 1, retryDelayMs: 100, graceMs: 60_000, defaultTtlMs: 15_000 };

function setup(t: TestContext, options: RegistryMetricsOptions = {}) {
  const clock = new FakeClock();
  const down = new Set<string>();
  const registry = new Registry({
    clock,
    channel: {
      async send(target) {
        if (down.has(target)) throw new Error('connection refused');
      },
      close: async () => undefined,
    },
    probe: async (url) => {
      if (down.has(url)) throw new Error('connection refused');
    },
    options: { health: HEALTH, initialDeliveryWaitMs: 100, notify: { retryBaseMs: 250 } },
    // No jitter; an instance's first round comes half an interval after it registers.
    random: () => 0.5,
  });
  const metrics = createRegistryMetrics(registry, options);
  t.after(async () => {
    await metrics.close();
    await registry.close(0);
  });
  const scrape = async () => parseSamples(await metrics.registry.metrics());
  return { clock, down, registry, metrics, scrape };
}

/** An instance; only those that require something listen for patches, so deliveries are few. */
function reg(name: string, requires: string[] = []): Registration {
  return {
    service: name,
    url: `http://${name}`,
    requires,
    updateUrl: requires.length > 0 ? `http://${name}/services` : null,
    heartbeatUrl: `http://${name}/heartbeat`,
    ttlMs: null,
    metadata: {},
    protocol: 'v1',
    owner: null,
  };
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition lines (`name{a="b"} 1`); comments are skipped. */
function parseSamples(text: string): Sample[] {
  return text.split('\n').flatMap((line) => {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) return [];
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    return [{ name: match[1] as string, labels, value: Number(match[3]) }];
  });
}

/** The value of the one sample named `name` whose labels include `labels`. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value;
}

test('instances by service and state, and the revision, follow registrations and health', async (t) => {
  const { clock, down, registry, scrape } = setup(t);
  await registry.register(reg('log'));
  await registry.register(reg('grading', ['log']));
  let samples = await scrape();
  assert.equal(value(samples, 'roster_instances', { service: 'log', state: 'passing' }), 1);
  assert.equal(value(samples, 'roster_instances', { service: 'log', state: 'critical' }), 0);
  assert.equal(value(samples, 'roster_revision'), 2);

  down.add('http://log/heartbeat');
  await clock.tick(500); // the first round fails: critical
  samples = await scrape();
  assert.equal(value(samples, 'roster_instances', { service: 'log', state: 'passing' }), 0);
  assert.equal(value(samples, 'roster_instances', { service: 'log', state: 'critical' }), 1);
  assert.equal(value(samples, 'roster_revision'), registry.revision);

  registry.deregister(registry.instances().find((i) => i.service === 'grading')!.id);
  samples = await scrape();
  assert.equal(value(samples, 'roster_instances', { service: 'grading', state: 'passing' }), undefined, 'a service that is gone leaves no series');
});

test('probes are counted by result and timed', async (t) => {
  const { clock, down, registry, scrape } = setup(t);
  await registry.register(reg('log'));
  await clock.tick(500); // the first round passes
  let samples = await scrape();
  assert.equal(value(samples, 'roster_probes_total', { result: 'passing' }), 1);
  assert.equal(value(samples, 'roster_probes_total', { result: 'failing' }), 0);
  assert.equal(value(samples, 'roster_probe_duration_seconds_count', { result: 'passing' }), 1);

  down.add('http://log/heartbeat');
  await clock.tick(2000); // two more rounds (at 1.5 s and 2.5 s), both failing
  samples = await scrape();
  assert.equal(value(samples, 'roster_probes_total', { result: 'passing' }), 1);
  assert.equal(value(samples, 'roster_probes_total', { result: 'failing' }), 2);
  assert.equal(value(samples, 'roster_probe_duration_seconds_count', { result: 'failing' }), 2);
});

test('deliveries, failed attempts, retries, queue depth and change→delivery latency', async (t) => {
  const { clock, down, registry, scrape } = setup(t);
  await registry.register(reg('grading', ['log'])); // its initial patch is delivered
  let samples = await scrape();
  assert.equal(value(samples, 'roster_notifications_delivered_total'), 1);
  assert.equal(value(samples, 'roster_notification_delivery_seconds_count'), 1);
  assert.equal(value(samples, 'roster_notification_delivery_seconds_bucket', { le: '0.001' }), 1, 'a delivery with no delay lands in the first bucket');

  down.add('http://grading/services');
  await registry.register(reg('log')); // grading hears Added, but its update URL refuses
  await registry.register({ ...reg('log'), url: 'http://log-2', heartbeatUrl: 'http://log-2/heartbeat' }); // a second patch queues behind it
  await clock.tick(0); // sends start on the next turn of the event loop
  samples = await scrape();
  assert.equal(value(samples, 'roster_notifications_failed_total'), 1);
  assert.equal(value(samples, 'roster_notification_queue_depth', { subscriber: 'http://grading/services' }), 2);

  await clock.tick(250); // the retry fails too
  assert.equal(value(await scrape(), 'roster_notifications_failed_total'), 2);

  down.delete('http://grading/services');
  await clock.tick(500); // the next retry lands, then the patch behind it
  samples = await scrape();
  assert.equal(value(samples, 'roster_notifications_delivered_total'), 3);
  assert.equal(value(samples, 'roster_notifications_retried_total'), 1, 'only the patch that was retried counts');
  assert.equal(value(samples, 'roster_notifications_failed_total'), 2);
  assert.equal(value(samples, 'roster_notification_queue_depth', { subscriber: 'http://grading/services' }) ?? 0, 0);
  // The retried patch waited 750 ms (250 + 500): it falls between the 0.5 s and 1 s bounds.
  assert.equal(value(samples, 'roster_notification_delivery_seconds_bucket', { le: '0.5' }), 1);
  assert.equal(value(samples, 'roster_notification_delivery_seconds_bucket', { le: '1' }), 3);
});

test('patches dropped for a subscriber that is deregistered are counted by reason', async (t) => {
  const { down, registry, scrape } = setup(t);
  await registry.register(reg('grading', ['log']));
  down.add('http://grading/services');
  await registry.register(reg('log'));
  registry.deregister(registry.instances().find((i) => i.service === 'grading')!.id);
  const samples = await scrape();
  assert.equal(value(samples, 'roster_notifications_dropped_total', { reason: 'removed' }), 1);
  assert.equal(value(samples, 'roster_notifications_dropped_total', { reason: 'overflow' }), 0);
});

test('open watch streams are read from the watch routes at scrape time', async (t) => {
  let open = 0;
  const { scrape } = setup(t, { openStreams: () => open });
  assert.equal(value(await scrape(), 'roster_watch_streams'), 0);
  open = 3;
  assert.equal(value(await scrape(), 'roster_watch_streams'), 3);
});

test('two registries in one process keep separate metrics', async (t) => {
  const a = setup(t);
  const b = setup(t);
  await a.registry.register(reg('log'));
  assert.equal(value(await a.scrape(), 'roster_revision'), 1);
  assert.equal(value(await b.scrape(), 'roster_revision'), 0);
  assert.equal(value(await b.scrape(), 'roster_notifications_delivered_total'), 0);
});

test('close() stops following the registry and is idempotent', async (t) => {
  const { registry, metrics } = setup(t);
  const before = { probe: registry.listenerCount('probe'), notification: registry.listenerCount('notification') };
  assert.equal(metrics.closed, false);
  await Promise.all([metrics.close(), metrics.close()]);
  await metrics.close();
  assert.equal(metrics.closed, true);
  assert.equal(registry.listenerCount('probe'), before.probe - 1);
  assert.equal(registry.listenerCount('notification'), before.notification - 1);
  assert.deepEqual(metrics.registry.getMetricsAsArray(), [], 'its metrics are unregistered');
});

test('GET /metrics answers the Prometheus text format, process metrics included', async (t) => {
  const { registry, metrics } = setup(t);
  await registry.register(reg('log'));
  const app = Fastify();
  app.register(metricsRoutes(metrics));
  t.after(() => app.close());
  const response = await app.inject('/metrics');
  assert.equal(response.statusCode, 200);
  assert.equal(response.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  assert.match(response.body, /^# HELP roster_instances \S/m);
  assert.match(response.body, /^# TYPE roster_instances gauge$/m);
  assert.match(response.body, /^roster_instances\{service="log",state="passing"\} 1$/m);
  assert.match(response.body, /^process_cpu_user_seconds_total \d/m);
  assert.match(response.body, /^nodejs_eventloop_lag_seconds \d/m);
});

test('every metric is documented in docs/metrics.md with its type', async (t) => {
  const doc = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
  const { metrics } = setup(t);
  const described = await metrics.registry.getMetricsAsJSON();
  assert.ok(described.length > 20, 'process metrics are registered too');
  for (const { name, type, help } of described) {
    assert.ok(help.length > 0, `${name} has no help text`);
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
    assert.ok(row, `docs/metrics.md has no table row for ${name}`);
    assert.ok(row.split('|')[2]?.trim().startsWith(String(type)), `docs/metrics.md gives ${name} another type than ${type}`);
  }
});
