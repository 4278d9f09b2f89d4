// Prometheus metrics of one registry (docs/metrics.md). Counters and histograms follow the
// registry's events; gauges read the registry when scraped, so they cannot drift from it.
import { Counter, Gauge, Histogram, Registry as MetricsRegistry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { HealthEvent } from './health/health-checker.js';
import type { NotifierEvent } from './notify/notifier.js';
import type { RegistryApi } from './registry-api.js';
import { DEFAULT_LIMITS, type LimitRejections } from './limits.js';

export interface RegistryMetricsOptions {
  /** How many watch streams are open now; the watch routes own that number. */
  openStreams?: () => number;
  /** Refusals by limit (`roster_limit_rejections_total`); the registry's admission and HTTP layer count them. */
  rejections?: LimitRejections;
}

export interface RegistryMetrics {
  /** A registry of its own (not prom-client's global one), so several can live in one process. */
  readonly registry: MetricsRegistry;
  /** True once close() was called. */
  readonly closed: boolean;
  /** Stops following the registry and drops every metric. Idempotent. */
  close(): Promise<void>;
}

// Probes and deliveries on a LAN take milliseconds; the upper buckets catch timeouts and retries.
const PROBE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const DELIVERY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export function createRegistryMetrics(registry: RegistryApi, options: RegistryMetricsOptions = {}): RegistryMetrics {
  const metrics = new MetricsRegistry();
  for (const metric of processMetrics()) metrics.registerMetric(metric);
  defineScrapeGauges(metrics, registry, options);
  const onProbe = probeRecorder(metrics);
  const onNotification = notificationRecorder(metrics);
  registry.on('probe', onProbe);
  registry.on('notification', onNotification);
  let closed = false;
  return {
    registry: metrics,
    get closed(): boolean {
      return closed;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      registry.off('probe', onProbe);
      registry.off('notification', onNotification);
      metrics.clear();
    },
  };
}

/** Gauges computed at scrape time from the registry's current state. */
function defineScrapeGauges(metrics: MetricsRegistry, registry: RegistryApi, options: RegistryMetricsOptions): void {
  const registers = [metrics];
  new Gauge({
    name: 'roster_instances',
    help: 'Registered instances by service and health state (passing, critical).',
    labelNames: ['service', 'state'] as const,
    registers,
    collect() {
      this.reset();
      for (const service of registry.services()) {
        this.set({ service: service.name, state: 'passing' }, service.passing);
        this.set({ service: service.name, state: 'critical' }, service.critical);
      }
    },
  });
  new Gauge({
    name: 'roster_instances_in_maintenance',
    help: 'Instances in maintenance (their own or their service\'s), by service; services with none are left out.',
    labelNames: ['service'] as const,
    registers,
    collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const record of registry.instances()) {
        if (record.maintenance) counts.set(record.service, (counts.get(record.service) ?? 0) + 1);
      }
      for (const [service, count] of counts) this.set({ service }, count);
    },
  });
  new Gauge({
    name: 'roster_notification_queue_depth',
    help: `Patches waiting for delivery per subscriber (update URL), including the one being sent; beyond limits.maxMetricSeries the shallowest queues are summed under subscriber="${OTHER}".`,
    labelNames: ['subscriber'] as const,
    registers,
    collect() {
      this.reset();
      const depths = capSeries(registry.notificationQueues(), registry.options.limits.maxMetricSeries);
      for (const [subscriber, depth] of depths) this.set({ subscriber }, depth);
    },
  });
  new Gauge({
    name: 'roster_notification_queue_bytes',
    help: 'Bytes of every patch waiting for delivery (bounded by limits.outboxBytesTotal).',
    registers,
    collect() {
      this.set(registry.notificationBytes?.() ?? 0);
    },
  });
  new Gauge({
    name: 'roster_watch_streams',
    help: 'Open watch streams (GET /v1/watch).',
    registers,
    collect() {
      this.set(options.openStreams?.() ?? 0);
    },
  });
  if (options.rejections) defineRejections(metrics, options.rejections);
  defineSelfPreservation(metrics, registry);
  new Gauge({
    name: 'roster_revision',
    help: 'Current revision of the catalog.',
    registers,
    collect() {
      this.set(registry.revision);
    },
  });
}

/** Read at scrape time from the node that probes; 0 on a node that does not. */
function defineSelfPreservation(metrics: MetricsRegistry, registry: RegistryApi): void {
  const registers = [metrics];
  new Gauge({
    name: 'roster_self_preservation_active',
    help: '1 while the registry suspects itself (many instances turned critical at once) and holds their removal, else 0.',
    registers,
    collect() {
      this.set(registry.selfPreservation?.()?.active ? 1 : 0);
    },
  });
  new Counter({
    name: 'roster_self_preservation_activations_total',
    help: 'Times self-preservation started since this node began probing.',
    registers,
    collect() {
      this.reset();
      this.inc(registry.selfPreservation?.()?.activations ?? 0);
    },
  });
}

/** A counter read at scrape time: the refusals are counted where they happen, by limit name. */
function defineRejections(metrics: MetricsRegistry, rejections: LimitRejections): void {
  new Counter({
    name: 'roster_limit_rejections_total',
    help: 'Requests refused, or watch streams cut, because a limit was reached, by limit (docs/operations.md).',
    labelNames: ['limit'] as const,
    registers: [metrics],
    collect() {
      this.reset();
      // Every limit from the start, at 0, so that rate() sees the first refusal.
      for (const limit of Object.keys(DEFAULT_LIMITS)) this.inc({ limit }, 0);
      for (const [limit, count] of rejections.entries()) this.inc({ limit }, count);
    },
  });
}

function probeRecorder(metrics: MetricsRegistry): (event: HealthEvent & { type: 'checked' }) => void {
  const registers = [metrics];
  const probes = new Counter({
    name: 'roster_probes_total',
    help: 'Heartbeat probes by result (passing: answered 200 in time; failing: anything else).',
    labelNames: ['result'] as const,
    registers,
  });
  const duration = new Histogram({
    name: 'roster_probe_duration_seconds',
    help: 'Time a heartbeat probe took, by result.',
    labelNames: ['result'] as const,
    buckets: PROBE_BUCKETS,
    registers,
  });
  // Thousands of probes a second: the series of each result are looked up once, here. Both
  // exist from the start, so that rate() sees the first failure.
  const series = (result: 'passing' | 'failing') => ({ count: probes.labels(result), duration: duration.labels(result) });
  const passing = series('passing');
  const failing = series('failing');
  passing.count.inc(0);
  failing.count.inc(0);
  return (event) => {
    const { count, duration: seconds } = event.error === null ? passing : failing;
    count.inc();
    seconds.observe(event.latencyMs / 1000);
  };
}

// Subscribers come and go, and counters are never deleted: labelling them by subscriber would
// grow without bound. The per-subscriber view is the queue-depth gauge, which reflects only now.
function notificationRecorder(metrics: MetricsRegistry): (event: NotifierEvent) => void {
  const registers = [metrics];
  const delivered = new Counter({ name: 'roster_notifications_delivered_total', help: 'Patches delivered to a subscriber.', registers });
  const failed = new Counter({ name: 'roster_notifications_failed_total', help: 'Failed delivery attempts; each is retried after a backoff.', registers });
  const retried = new Counter({ name: 'roster_notifications_retried_total', help: 'Patches delivered only after one or more failed attempts.', registers });
  const dropped = new Counter({
    name: 'roster_notifications_dropped_total',
    help: 'Patches given up without delivery, by reason (removed, overflow, closed, given-up).',
    labelNames: ['reason'] as const,
    registers,
  });
  const latency = new Histogram({
    name: 'roster_notification_delivery_seconds',
    help: 'Time from a change to the delivery of its patch, retries included.',
    buckets: DELIVERY_BUCKETS,
    registers,
  });
  for (const reason of ['removed', 'overflow', 'closed', 'given-up']) dropped.inc({ reason }, 0);
  return (event) => {
    switch (event.type) {
      case 'failed':
        return failed.inc();
      case 'dropped':
        return dropped.inc({ reason: event.reason }, event.count);
      case 'skipped':
        return dropped.inc({ reason: event.reason });
      case 'delivered':
        delivered.inc();
        if (event.attempts > 1) retried.inc();
        return latency.observe(event.latencyMs / 1000);
    }
  };
}

/** The label value that stands for every series beyond the cap; no URL or name can be it. */
const OTHER = 'other';

/**
 * At most `max` series: the `max - 1` largest values keep their label, the rest are summed under
 * "other". Update URLs are as many as the catalog's instances; a scrape must not grow with them.
 */
export function capSeries(values: ReadonlyMap<string, number>, max: number): Map<string, number> {
  if (values.size <= max) return new Map(values);
  const sorted = [...values].sort(([, a], [, b]) => b - a);
  const kept = new Map(sorted.slice(0, max - 1));
  const rest = sorted.slice(max - 1).reduce((sum, [, value]) => sum + value, 0);
  return kept.set(OTHER, rest);
}

let sharedProcessMetrics: Metric[] | undefined;

/**
 * Node's process metrics (CPU, memory, event loop, GC). They describe the process, not one
 * registry, so they are collected once: one GC observer and one event-loop monitor, however many
 * registries a process runs, and nothing new to stop when one closes. prom-client 15 samples at
 * scrape time and starts no interval timer.
 */
function processMetrics(): Metric[] {
  if (!sharedProcessMetrics) {
    const register = new MetricsRegistry();
    collectDefaultMetrics({ register });
    sharedProcessMetrics = register.getMetricsAsArray().flatMap(({ name }) => register.getSingleMetric(name) ?? []);
  }
  return sharedProcessMetrics;
}
