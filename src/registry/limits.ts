// Every resource a caller can make the registry hold has a bound here, with its default.
// docs/operations.md lists them; a refusal names the limit and the option that raises it, and
// `roster_limit_rejections_total{limit}` counts it.
import { z } from 'zod';
import { durationMs, resolveOptions, wholeNumber } from '../shared/options.js';

const KiB = 1024;
const MiB = 1024 * KiB;

export const DEFAULT_LIMITS = Object.freeze({
  /** Instances in the whole catalog. */
  maxInstances: 100_000,
  /** Instances of one service. */
  maxInstancesPerService: 10_000,
  /** Instances registered by one credential (course callers share the credential "course"). */
  maxInstancesPerCredential: 10_000,
  /** A request body. */
  maxBodyBytes: 256 * KiB,
  /** A request's headers (Node's `maxHeaderSize`). */
  maxHeaderBytes: 16 * KiB,
  /** Open watch streams (GET /v1/watch) in total. */
  maxWatchStreams: 2_000,
  /** Open watch streams of one credential. */
  maxWatchStreamsPerCredential: 200,
  /** Open session streams (GET /v1/instances/{id}/session), one per session instance. */
  maxSessions: 20_000,
  /** Bytes a watch stream may have written but its reader not taken; beyond it the reader is cut. */
  watchBacklogBytes: 8 * MiB,
  /** Queued patch bytes for one subscriber (an update URL); beyond it its queue is dropped. */
  outboxBytesPerSubscriber: 1 * MiB,
  /** Queued patch bytes for all subscribers together. */
  outboxBytesTotal: 16 * MiB,
  /** A subscriber failing for longer than this is not retried until it is heard from again. */
  subscriberGiveUpMs: 10 * 60_000,
  /** Probes and patches in flight towards one origin (scheme://host:port). */
  outboundConcurrencyPerOrigin: 16,
  /** Probes and patches waiting for a slot towards one origin; beyond it they fail at once and are retried later. */
  outboundQueuePerOrigin: 1_000,
  /** Label values one metric may carry (e.g. update URLs); the rest are counted as "other". */
  maxMetricSeries: 500,
  /** Writes (register, renew, deregister) one credential — or one source address without one — may make per window. */
  writesPerWindow: 1_000,
  /** The window of `writesPerWindow`. */
  writeWindowMs: 10_000,
  /** Open connections to the registry's HTTP server. */
  maxConnections: 10_000,
  /** How long a client may take to send a request's headers. */
  headersTimeoutMs: 10_000,
  /** How long a client may take to send a whole request (registrations wait for their first patch). */
  requestTimeoutMs: 30_000,
});

export type RegistryLimits = { readonly [K in keyof typeof DEFAULT_LIMITS]: number };
export type LimitName = keyof RegistryLimits;

/** Each limit a whole number ≥ 1 (a duration, named …Ms, at most what a timer can wait), its default from DEFAULT_LIMITS; part of the registry's options. */
export const limitsSchema = z
  .strictObject(
    Object.fromEntries(Object.entries(DEFAULT_LIMITS).map(([name, value]) => [name, limitValue(name).default(value)])) as Record<LimitName, z.ZodDefault<z.ZodNumber>>,
  )
  // Node refuses a headers timeout longer than the request's: the headers are part of the request.
  .refine((limits) => limits.headersTimeoutMs <= limits.requestTimeoutMs, {
    error: (issue) => `at most limits.requestTimeoutMs (${(issue.input as RegistryLimits).requestTimeoutMs})`,
    path: ['headersTimeoutMs'],
  });

function limitValue(name: string): z.ZodNumber {
  return name.endsWith('Ms') ? durationMs(1) : wholeNumber(1);
}

/** The limits with defaults filled in; refuses unknown names and values that are no whole number ≥ 1. */
export function resolveLimits(input: Partial<RegistryLimits> = {}): RegistryLimits {
  return resolveOptions(limitsSchema, input, { owner: 'the registry', path: 'limits' });
}

/**
 * Counts refusals by limit, for /metrics. One per registry, shared by the core (instances, outbox)
 * and the HTTP layer (bodies, streams, rates).
 */
export class LimitRejections {
  readonly #counts = new Map<LimitName, number>();

  count(limit: LimitName): void {
    this.#counts.set(limit, (this.#counts.get(limit) ?? 0) + 1);
  }

  /** Refusals so far, by limit. */
  entries(): IterableIterator<[LimitName, number]> {
    return this.#counts.entries();
  }
}
