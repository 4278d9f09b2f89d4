// Decides whether registered instances are alive, in stages: passing → critical → expired.
// One failed probe is never a removal: a round retries, a failed round only marks the instance
// critical, and only a whole grace period of being critical expires it. Every instance has its
// own timers, so a slow or hung instance never delays the checks of another.

import { z } from 'zod';
import { invalidRequest, registryStopping } from '../../protocol/errors.js';
import type { Health } from '../../protocol/v1.js';
import { type Clock, type TimerHandle, systemClock } from '../../shared/clock.js';
import { durationMs, MAX_TIMER_MS, resolveOptions, wholeNumber } from '../../shared/options.js';
import type { Prober } from './prober.js';
import { callListener, silentLogger, type Logger } from '../../shared/logger.js';

export type { Prober } from './prober.js';

/** The health checker's options, with their defaults. */
export const healthOptionsSchema = z.strictObject({
  /** Time between probe rounds of one instance. */
  intervalMs: durationMs(1).default(3000),
  /**
   * Each interval is shortened by up to this ratio, at random, so that rounds of many instances
   * drift apart. Never lengthened: a dead instance is noticed within the interval, not later.
   */
  jitter: z.number({ error: 'a number from 0 up to (not including) 1' }).min(0).lt(1).default(0.1),
  /** Limit for one probe: its one deadline, on the clock. */
  timeoutMs: durationMs(1).default(1000),
  /** Probes per round before the instance turns critical. */
  attempts: wholeNumber(1).default(3),
  /** Wait between attempts of one round. */
  retryDelayMs: durationMs(0).default(1000),
  /** Critical this long → expired (deregistered for good). */
  graceMs: durationMs(0).default(60_000),
  /** TTL for instances registered without a heartbeat URL and without their own ttlMs. */
  defaultTtlMs: durationMs(1).default(15_000),
});

export type HealthOptions = z.output<typeof healthOptionsSchema>;

export const DEFAULT_HEALTH_OPTIONS: Readonly<HealthOptions> = resolveHealthOptions();

/** The options with defaults filled in, frozen (the registry checks them first as its `health`). */
export function resolveHealthOptions(input?: Partial<HealthOptions>): Readonly<HealthOptions> {
  return resolveOptions(healthOptionsSchema, input, { owner: 'the health checker' });
}

export interface HealthTarget {
  id: string;
  heartbeatUrl: string | null;
  ttlMs: number | null;
  health: Health;
  /** When a target restored as critical turned critical; its grace period counts from here. */
  criticalSince?: number | null;
  /** TTL mode: when the instance last renewed; the TTL counts from here. */
  lastRenewAt?: number | null;
  /** Session liveness: never probed; its session tracker calls setSessionHealth(). */
  session?: boolean;
}

export type HealthEvent =
  | { type: 'checked'; id: string; at: number; latencyMs: number; error: string | null }
  | { type: 'critical'; id: string; at: number; reason: string }
  | { type: 'passing'; id: string; at: number }
  | { type: 'expired'; id: string; at: number };

export interface HealthCheckerInit {
  probe: Prober;
  onEvent: (event: HealthEvent) => void;
  clock?: Clock;
  options?: Partial<HealthOptions>;
  random?: () => number;
  /** Where an error thrown by `onEvent` is reported. */
  logger?: Logger;
  /** Self-preservation: true while the expiry of `id` is held; its grace is looked at again an interval later. */
  holdsExpiry?: (id: string) => boolean;
}

/** One tracked instance. A new `track` of the same id replaces the whole entry. */
interface Entry {
  readonly id: string;
  readonly url: string | null;
  readonly ttlMs: number;
  /** Session liveness: no probe round, no TTL; only setSessionHealth() changes its health. */
  readonly session: boolean;
  /** Set when the entry stops being tracked, so that its async round stops too. */
  stopped: boolean;
  health: Health;
  criticalSince: number | null;
  /** Next round (heartbeat mode) or TTL deadline (TTL mode); null while a round runs. */
  timer: TimerHandle | null;
  /** Ends the probe in flight, or the wait before a retry, at once; null when neither runs. */
  interrupt: (() => void) | null;
  graceTimer: TimerHandle | null;
}

export class HealthChecker {
  readonly options: Readonly<HealthOptions>;
  readonly #probe: Prober;
  readonly #onEvent: (event: HealthEvent) => void;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #holdsExpiry: (id: string) => boolean;
  readonly #entries = new Map<string, Entry>();
  readonly #rounds = new Set<Promise<void>>();
  #closed = false;

  constructor(init: HealthCheckerInit) {
    this.options = resolveHealthOptions(init.options);
    this.#probe = init.probe;
    this.#onEvent = init.onEvent;
    this.#clock = init.clock ?? systemClock;
    this.#random = init.random ?? Math.random;
    this.#logger = init.logger ?? silentLogger;
    this.#holdsExpiry = init.holdsExpiry ?? (() => false);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Starts watching `target`, or replaces the settings of a tracked id (restarting its timers). */
  track(target: HealthTarget): void {
    if (this.#closed) throw registryStopping();
    checkTarget(target);
    this.untrack(target.id);
    const entry = this.#createEntry(target);
    this.#entries.set(entry.id, entry);
    if (entry.health === 'critical') this.#armGrace(entry);
    if (entry.session) return;
    if (entry.url !== null) this.#scheduleRound(entry, Math.floor(this.#random() * this.options.intervalMs));
    else if (entry.health === 'passing') this.#armTtl(entry, target.lastRenewAt ?? this.#clock.now());
  }

  /** Stops watching `id` without an event; its in-flight probe is aborted. */
  untrack(id: string): void {
    const entry = this.#entries.get(id);
    if (!entry) return;
    this.#entries.delete(id);
    entry.stopped = true;
    this.#clearTimers(entry);
    entry.interrupt?.();
  }

  /** TTL mode: the instance is alive now. False when `id` is not tracked or not a TTL target. */
  renew(id: string): boolean {
    const entry = this.#entries.get(id);
    if (!entry || entry.url !== null || entry.session) return false;
    const now = this.#clock.now();
    this.#armTtl(entry, now);
    this.#markPassing(entry);
    return true;
  }

  /**
   * Session liveness: the session tracker says the instance is alive or not. The same state
   * changes as a probe's (critical, then expired after graceMs), so dependents hear the same.
   */
  setSessionHealth(id: string, alive: boolean, reason = 'session closed'): boolean {
    const entry = this.#entries.get(id);
    if (!entry?.session) return false;
    if (alive) this.#markPassing(entry);
    else this.#markCritical(entry, reason);
    return true;
  }

  /** Stops every timer and probe; resolves once no round is running. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const id of [...this.#entries.keys()]) this.untrack(id);
    await Promise.all([...this.#rounds]);
  }

  #createEntry(target: HealthTarget): Entry {
    const critical = target.health === 'critical';
    return {
      id: target.id,
      url: target.heartbeatUrl,
      ttlMs: target.ttlMs ?? this.options.defaultTtlMs,
      session: target.session === true,
      stopped: false,
      health: target.health,
      criticalSince: critical ? (target.criticalSince ?? this.#clock.now()) : null,
      timer: null,
      interrupt: null,
      graceTimer: null,
    };
  }

  // ---- heartbeat mode ----

  #scheduleRound(entry: Entry, delayMs: number): void {
    if (entry.stopped) return;
    entry.timer = this.#clock.setTimeout(() => {
      entry.timer = null;
      this.#startRound(entry);
    }, delayMs);
  }

  /** Runs a round in the background; close() waits for the ones still running. */
  #startRound(entry: Entry): void {
    const round = this.#runRound(entry).finally(() => this.#rounds.delete(round));
    this.#rounds.add(round);
  }

  async #runRound(entry: Entry): Promise<void> {
    const error = await this.#probeWithRetries(entry);
    if (entry.stopped) return;
    if (error === null) this.#markPassing(entry);
    else this.#markCritical(entry, error);
    this.#scheduleRound(entry, this.#nextInterval());
  }

  #nextInterval(): number {
    const { intervalMs, jitter } = this.options;
    return Math.round(intervalMs * (1 - jitter * this.#random()));
  }

  /** Up to `attempts` probes; resolves to null at the first success, else the last error. */
  async #probeWithRetries(entry: Entry): Promise<string | null> {
    const { attempts, retryDelayMs } = this.options;
    let error: string | null = 'not probed';
    for (let attempt = 1; attempt <= attempts && !entry.stopped; attempt++) {
      if (attempt > 1) await this.#waitBeforeRetry(entry, retryDelayMs);
      if (entry.stopped) break;
      error = await this.#probeOnce(entry);
      if (error === null) break;
    }
    return error;
  }

  /** Resolves after `ms` on the clock, or at once when the entry is untracked. */
  #waitBeforeRetry(entry: Entry, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        entry.interrupt = null;
        this.#clock.clearTimeout(timer);
        resolve();
      };
      const timer = this.#clock.setTimeout(done, ms);
      entry.interrupt = done;
    });
  }

  /** One probe, timed on the clock and reported with a `checked` event. */
  async #probeOnce(entry: Entry): Promise<string | null> {
    const started = this.#clock.now();
    const error = await this.#probeWithTimeout(entry);
    if (entry.stopped) return error;
    const at = this.#clock.now();
    this.#emit({ type: 'checked', id: entry.id, at, latencyMs: at - started, error });
    return error;
  }

  /**
   * Calls the prober and resolves to null on success or to a reason; never rejects. The timeout
   * runs on the clock and is the probe's one deadline: the prober has none of its own, and a
   * probe that hangs still ends on time; untrack() ends it at once. Either way the probe's
   * signal is aborted so that it can free resources.
   */
  #probeWithTimeout(entry: Entry): Promise<string | null> {
    const { timeoutMs } = this.options;
    return new Promise((resolve) => {
      const controller = new AbortController();
      let settled = false;
      const finish = (error: string | null): void => {
        if (settled) return;
        settled = true;
        entry.interrupt = null;
        this.#clock.clearTimeout(timer);
        if (error !== null) controller.abort(new Error(error));
        resolve(error);
      };
      const timer = this.#clock.setTimeout(() => finish(`timed out after ${timeoutMs} ms`), timeoutMs);
      entry.interrupt = () => finish('probe aborted');
      callProber(this.#probe, entry.url ?? '', controller.signal).then(
        () => finish(null),
        (err: unknown) => finish(reasonOf(err)),
      );
    });
  }

  // ---- TTL mode ----

  /** (Re)starts the TTL counted from `from`. */
  #armTtl(entry: Entry, from: number): void {
    if (entry.timer !== null) this.#clock.clearTimeout(entry.timer);
    const delay = Math.max(0, from + entry.ttlMs - this.#clock.now());
    entry.timer = this.#clock.setTimeout(() => {
      entry.timer = null;
      this.#markCritical(entry, `no renewal within ${entry.ttlMs} ms`);
    }, delay);
  }

  // ---- state changes, shared by both modes ----

  #markCritical(entry: Entry, reason: string): void {
    if (entry.health === 'critical') return;
    const now = this.#clock.now();
    entry.health = 'critical';
    entry.criticalSince = now;
    this.#armGrace(entry);
    this.#emit({ type: 'critical', id: entry.id, at: now, reason });
  }

  #markPassing(entry: Entry): void {
    if (entry.health === 'passing') return;
    entry.health = 'passing';
    entry.criticalSince = null;
    if (entry.graceTimer !== null) this.#clock.clearTimeout(entry.graceTimer);
    entry.graceTimer = null;
    this.#emit({ type: 'passing', id: entry.id, at: this.#clock.now() });
  }

  /** A timer at criticalSince + graceMs, so expiry is on time rather than at the next round. */
  #armGrace(entry: Entry, delayMs?: number): void {
    const since = entry.criticalSince ?? this.#clock.now();
    const delay = delayMs ?? Math.max(0, since + this.options.graceMs - this.#clock.now());
    entry.graceTimer = this.#clock.setTimeout(() => {
      entry.graceTimer = null;
      // Held: still probed, still critical; expires at the first look after the hold ends.
      if (this.#holdsExpiry(entry.id)) this.#armGrace(entry, this.options.intervalMs);
      else this.#expire(entry);
    }, delay);
  }

  #expire(entry: Entry): void {
    // Untrack first, so that a listener that untracks or re-tracks the id sees a clean state.
    this.untrack(entry.id);
    this.#emit({ type: 'expired', id: entry.id, at: this.#clock.now() });
  }

  #clearTimers(entry: Entry): void {
    if (entry.timer !== null) this.#clock.clearTimeout(entry.timer);
    if (entry.graceTimer !== null) this.#clock.clearTimeout(entry.graceTimer);
    entry.timer = null;
    entry.graceTimer = null;
  }

  // A throwing listener is the caller's bug: reported, and health checking goes on.
  #emit(event: HealthEvent): void {
    callListener(this.#logger, `health ${event.type}`, () => this.#onEvent(event));
  }
}

// A prober that throws instead of rejecting fails its probe, not the checker.
function callProber(probe: Prober, url: string, signal: AbortSignal): Promise<void> {
  try {
    return probe(url, signal);
  } catch (err) {
    return Promise.reject(err);
  }
}

function reasonOf(err: unknown): string {
  if (err instanceof Error && err.message) return err.message;
  return String(err) || 'probe failed';
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function checkTarget(target: HealthTarget): void {
  const ttl = target.ttlMs;
  if (ttl !== null && ttl !== undefined && !(isFiniteNumber(ttl) && ttl >= 1 && ttl <= MAX_TIMER_MS)) {
    throw invalidRequest(`ttlMs must be a number of milliseconds from 1 to ${MAX_TIMER_MS}`);
  }
}
