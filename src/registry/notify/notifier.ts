// Delivers patches to subscribers: one ordered queue per target, one send in flight per
// target, retried with backoff until it lands or the subscriber is removed. Each target runs
// on its own; nothing one target does can hold another back. What it holds is bounded: in bytes
// per target and in total (a queue beyond its bound shrinks to a gap marker, and the receiver
// repairs its view from the registry's state), and in time (a target failing for longer than
// subscriberGiveUpMs is given up until it is heard from again).

import type { Patch, PatchEntry } from '../../protocol/course.js';
import { z } from 'zod';
import { type Clock, type TimerHandle, sleep, systemClock, withJitter } from '../../shared/clock.js';
import { durationMs, resolveOptions, wholeNumber } from '../../shared/options.js';
import type { NotificationChannel } from './channel.js';
import { LimitRejections, resolveLimits, type LimitName, type RegistryLimits } from '../limits.js';
import { callListener, silentLogger, type Logger } from '../../shared/logger.js';

/** The notifier's options, with their defaults. */
export const notifierOptionsSchema = z
  .strictObject({
    /** How long one send may take before it is aborted and retried. */
    timeoutMs: durationMs(1).default(2_000),
    /** Wait before the first retry; doubles with each failed attempt. */
    retryBaseMs: durationMs(1).default(250),
    /** Longest wait between two attempts (before jitter). */
    retryMaxMs: durationMs(1).default(30_000),
    /** Patches waiting per target (not counting the one being sent); the oldest go beyond it. */
    maxQueue: wholeNumber(1).default(10_000),
  })
  .refine((options) => options.retryMaxMs >= options.retryBaseMs, { path: ['retryMaxMs'], error: 'at least retryBaseMs' });

export type NotifierOptions = z.output<typeof notifierOptionsSchema>;

export const DEFAULT_NOTIFIER_OPTIONS: Readonly<NotifierOptions> = resolveNotifierOptions();

/** The options with defaults filled in, frozen (the registry checks them first as its `notify`). */
export function resolveNotifierOptions(input?: Partial<NotifierOptions>): Readonly<NotifierOptions> {
  return resolveOptions(notifierOptionsSchema, input, { owner: 'the notifier' });
}

export type NotifierEvent =
  | { type: 'enqueued'; target: string; patch: StampedPatch }
  | { type: 'delivered'; target: string; revision: number; attempts: number; latencyMs: number }
  | { type: 'failed'; target: string; revision: number; attempt: number; error: string; retryInMs: number }
  | { type: 'dropped'; target: string; count: number; reason: DropReason; revisions: number[] }
  /** Not queued at all: the target is given up (nothing to store, nothing to drop). */
  | { type: 'skipped'; target: string; revision: number; reason: 'given-up' };

/** A patch as it is sent: with the revision of the one before it to the same target. */
export type StampedPatch = Patch & { Revision: number; PrevRevision: number };

export type DropReason = 'removed' | 'overflow' | 'closed' | 'given-up';

/** The registry's limits the notifier applies (src/registry/limits.ts). */
export type NotifierLimits = Pick<RegistryLimits, 'outboxBytesPerSubscriber' | 'outboxBytesTotal' | 'subscriberGiveUpMs'>;

export interface NotifierInit {
  channel: NotificationChannel;
  clock?: Clock;
  options?: Partial<NotifierOptions>;
  onEvent?: (event: NotifierEvent) => void;
  /** Source of jitter; tests pass a fixed one. */
  random?: () => number;
  /** Where an error thrown by `onEvent` is reported. */
  logger?: Logger;
  /** Bounds on queued bytes and on retrying; the registry's defaults when left out. */
  limits?: Partial<NotifierLimits>;
  /** Counts each queue shrunk and each target given up, for roster_limit_rejections_total. */
  rejections?: LimitRejections;
}

export interface EnqueuedPatch {
  Added: PatchEntry[];
  Removed: PatchEntry[];
  Revision: number;
}

const JITTER_RATIO = 0.2;
/** Sends started per turn of the event loop when many targets get a patch at once. */
const START_SLICE = 32;

interface Delivery {
  readonly patch: StampedPatch;
  readonly enqueuedAt: number;
  attempts: number;
  readonly settle: (delivered: boolean) => void;
  /** What it counts against the outbox bounds (see patchBytes). */
  readonly bytes: number;
}

/** Everything the notifier holds for one target. */
interface Lane {
  readonly target: string;
  /** The patch being delivered: in flight, or waiting for its retry. */
  head?: Delivery;
  readonly waiting: Delivery[];
  sending?: Promise<void>;
  abort?: AbortController;
  retry?: TimerHandle;
  /** Set by remove(): an answer that arrives afterwards must change nothing. */
  gone: boolean;
  /** Bytes of the patches it holds, the one in flight included. */
  bytes: number;
  /** When its current run of failed attempts began; undefined while it delivers. */
  failingSince?: number;
}

export class Notifier {
  readonly options: Readonly<NotifierOptions>;
  readonly limits: Readonly<NotifierLimits>;
  readonly #rejections: LimitRejections;
  readonly #channel: NotificationChannel;
  readonly #clock: Clock;
  readonly #onEvent: (event: NotifierEvent) => void;
  readonly #logger: Logger;
  readonly #random: () => number;
  readonly #lanes = new Map<string, Lane>();
  /** Lanes with a new patch whose send has not been started yet. */
  readonly #toStart = new Set<Lane>();
  #startScheduled = false;
  /** Revision of the last patch enqueued per target, stamped as the next one's PrevRevision. */
  readonly #lastRevision = new Map<string, number>();
  /** Bytes held by every lane together. */
  #queuedBytes = 0;
  /** Targets given up after failing too long: nothing is queued for them until heardFrom(). */
  readonly #givenUp = new Set<string>();
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(init: NotifierInit) {
    this.options = resolveNotifierOptions(init.options);
    this.#channel = init.channel;
    this.#clock = init.clock ?? systemClock;
    this.#onEvent = init.onEvent ?? (() => {});
    this.#logger = init.logger ?? silentLogger;
    this.#random = init.random ?? Math.random;
    this.limits = resolveNotifierLimits(init.limits);
    this.#rejections = init.rejections ?? new LimitRejections();
  }

  /**
   * Queues `patch` for `target`; resolves true once delivered, false if dropped. Never rejects.
   * `prevRevision` is given only when a restarted registry re-queues what it had not delivered.
   */
  enqueue(target: string, patch: EnqueuedPatch, prevRevision?: number): Promise<boolean> {
    if (this.#closed) {
      this.#emit({ type: 'dropped', target, count: 1, reason: 'closed', revisions: [patch.Revision] });
      return Promise.resolve(false);
    }
    if (this.#givenUp.has(target)) return this.#skip(target, patch);
    return new Promise((settle) => {
      const lane = this.#lane(target);
      const stamped = this.#stamp(target, patch, prevRevision);
      this.#emit({ type: 'enqueued', target, patch: stamped });
      this.#hold(lane, { patch: stamped, enqueuedAt: this.#clock.now(), attempts: 0, settle, bytes: patchBytes(target, stamped) });
      this.#trim(lane);
      this.#bound(lane);
      this.#startSoon(lane);
    });
  }

  /**
   * Cuts short a waiting retry of `target`, e.g. because the subscriber just re-registered, and
   * takes it back if it was given up (the registration's own patch is its whole picture).
   */
  retryNow(target: string): void {
    this.#givenUp.delete(target);
    const lane = this.#lanes.get(target);
    if (!lane?.retry) return;
    this.#clock.clearTimeout(lane.retry);
    lane.retry = undefined;
    this.#pump(lane);
  }

  /** The subscriber is gone: drops its queue and aborts its send. Its next patch starts at PrevRevision 0. */
  remove(target: string): void {
    this.#lastRevision.delete(target);
    this.#givenUp.delete(target);
    const lane = this.#lanes.get(target);
    if (!lane) return;
    this.#lanes.delete(target);
    lane.gone = true;
    lane.abort?.abort(new Error('subscriber removed'));
    this.#dropAll(lane, 'removed');
  }

  /** Patches not yet delivered to `target`: waiting plus the one in flight. */
  pending(target: string): number {
    const lane = this.#lanes.get(target);
    return lane ? lane.waiting.length + (lane.head ? 1 : 0) : 0;
  }

  /** Undelivered patches of every target that has any. */
  queueDepths(): Map<string, number> {
    return new Map([...this.#lanes.keys()].map((target) => [target, this.pending(target)]));
  }

  /** How many targets have anything to deliver. */
  get targets(): number {
    return this.#lanes.size;
  }

  /** Bytes of every undelivered patch (see patchBytes), bounded by limits.outboxBytesTotal. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Bytes of the patches undelivered to `target`, bounded by limits.outboxBytesPerSubscriber. */
  bytesFor(target: string): number {
    return this.#lanes.get(target)?.bytes ?? 0;
  }

  /** True while `target` is given up: failed for longer than limits.subscriberGiveUpMs, not heard from since. */
  isGivenUp(target: string): boolean {
    return this.#givenUp.has(target);
  }

  /**
   * `target` was heard from (its instance renewed, or passed a probe): it is retried again.
   * True when it had been given up: what it missed was dropped, so it wants a whole patch now.
   */
  heardFrom(target: string): boolean {
    return this.#givenUp.delete(target);
  }

  /** Stops retries and intake, lets in-flight sends finish within `graceMs`, aborts the rest. */
  close(graceMs: number = this.options.timeoutMs): Promise<void> {
    this.#closing ??= this.#shutdown(graceMs);
    return this.#closing;
  }

  async #shutdown(graceMs: number): Promise<void> {
    this.#closed = true;
    const lanes = [...this.#lanes.values()];
    for (const lane of lanes) this.#dropAll(lane, 'closed', { keepInFlight: true });
    const sending = lanes.flatMap((lane) => lane.sending ?? []);
    await this.#atMost(Promise.allSettled(sending), Math.max(0, graceMs));
    for (const lane of lanes) lane.abort?.abort(new Error('notifier closed'));
    await Promise.allSettled(sending);
    this.#lanes.clear();
    this.#lastRevision.clear();
    this.#givenUp.clear();
  }

  #lane(target: string): Lane {
    let lane = this.#lanes.get(target);
    if (!lane) {
      lane = { target, waiting: [], gone: false, bytes: 0 };
      this.#lanes.set(target, lane);
    }
    return lane;
  }

  // Key order as the course writes it, Roster's additions last.
  #stamp(target: string, { Added, Removed, Revision }: EnqueuedPatch, prevRevision?: number): StampedPatch {
    const PrevRevision = prevRevision ?? this.#lastRevision.get(target) ?? 0;
    this.#lastRevision.set(target, Revision);
    return { Added, Removed, Revision, PrevRevision };
  }

  // Dropping the oldest keeps memory bounded; the receiver sees the PrevRevision gap and resyncs.
  #trim(lane: Lane): void {
    // A lane whose send has not started yet keeps its first patch: it is the next in flight.
    const next = lane.head || lane.sending ? 0 : 1;
    const excess = lane.waiting.length - next - this.options.maxQueue;
    if (excess > 0) this.#drop(lane, lane.waiting.splice(next, excess), 'overflow');
  }

  // Stamped all the same, so that the patch after the give-up shows the receiver what it missed.
  #skip(target: string, patch: EnqueuedPatch): Promise<boolean> {
    this.#stamp(target, patch);
    this.#emit({ type: 'skipped', target, revision: patch.Revision, reason: 'given-up' });
    return Promise.resolve(false);
  }

  #hold(lane: Lane, delivery: Delivery): void {
    lane.waiting.push(delivery);
    lane.bytes += delivery.bytes;
    this.#queuedBytes += delivery.bytes;
  }

  #release(lane: Lane, delivery: Delivery): void {
    lane.bytes -= delivery.bytes;
    this.#queuedBytes -= delivery.bytes;
  }

  /** A lane beyond its bound shrinks; while the total is beyond its bound, the largest lanes do. */
  #bound(lane: Lane): void {
    if (lane.bytes > this.limits.outboxBytesPerSubscriber) this.#shrink(lane, 'outboxBytesPerSubscriber');
    while (this.#queuedBytes > this.limits.outboxBytesTotal) {
      const largest = this.#largestShrinkable();
      if (!largest) return;
      this.#shrink(largest, 'outboxBytesTotal');
    }
  }

  #largestShrinkable(): Lane | undefined {
    let largest: Lane | undefined;
    for (const lane of this.#lanes.values()) {
      if (lane.bytes > shrunkBytes(lane) && (!largest || lane.bytes > largest.bytes)) largest = lane;
    }
    return largest;
  }

  /**
   * Drops every patch of `lane` not on the wire, and queues in their place one empty patch under
   * the newest one's revision, with PrevRevision equal to its Revision: a receiver that has not
   * got that revision sees a gap and reads the registry's state (docs/protocol.md); one that has
   * ignores it. The newest patch keeps its place in the store, whole: after a restart it is
   * sent as it was, and its own PrevRevision shows the gap.
   */
  #shrink(lane: Lane, limit: LimitName): void {
    const inFlight = lane.sending !== undefined;
    const held = lane.waiting.splice(0);
    if (lane.head && !inFlight) held.unshift(lane.head);
    const newest = held.pop();
    if (!newest) return;
    const marker = gapMarker(lane.target, newest, inFlight ? 0 : (lane.head?.attempts ?? 0));
    if (!inFlight) lane.head = undefined;
    this.#drop(lane, held, 'overflow');
    this.#release(lane, newest);
    this.#hold(lane, marker);
    if (!inFlight) lane.head = lane.waiting.pop();
    this.#rejections.count(limit);
  }

  /**
   * One change may queue a patch for a thousand targets at once. Sends start in slices, with a
   * turn of the event loop between them, so that the first patches are on the wire while the
   * later ones are still being prepared. The order within each target is set by enqueue().
   */
  #startSoon(lane: Lane): void {
    this.#toStart.add(lane);
    if (this.#startScheduled) return;
    this.#startScheduled = true;
    setImmediate(() => this.#startSlice());
  }

  #startSlice(): void {
    this.#startScheduled = false;
    let started = 0;
    for (const lane of this.#toStart) {
      if (started++ === START_SLICE) break;
      this.#toStart.delete(lane);
      if (!lane.gone) this.#pump(lane);
    }
    if (this.#toStart.size > 0) {
      this.#startScheduled = true;
      setImmediate(() => this.#startSlice());
    }
  }

  /** Starts the next send of `lane` unless one is in flight or a retry is waiting. */
  #pump(lane: Lane): void {
    if (lane.sending || lane.retry) return;
    lane.head ??= lane.waiting.shift();
    if (lane.head) lane.sending = this.#attempt(lane, lane.head);
    else if (this.#lanes.get(lane.target) === lane) this.#lanes.delete(lane.target);
  }

  async #attempt(lane: Lane, delivery: Delivery): Promise<void> {
    delivery.attempts += 1;
    const error = await this.#send(lane, delivery);
    lane.sending = undefined;
    if (lane.gone) return; // remove() has settled it already
    if (!error) this.#delivered(lane, delivery);
    else if (this.#closed) this.#dropAll(lane, 'closed');
    else this.#failed(lane, delivery, error);
  }

  // Retried with backoff, until the target has failed for longer than the give-up bound.
  #failed(lane: Lane, delivery: Delivery, error: Error): void {
    const now = this.#clock.now();
    lane.failingSince ??= now;
    if (now - lane.failingSince < this.limits.subscriberGiveUpMs) return this.#scheduleRetry(lane, delivery, error);
    this.#givenUp.add(lane.target);
    this.#rejections.count('subscriberGiveUpMs');
    this.#dropAll(lane, 'given-up');
  }

  /**
   * One try, bounded by the timeout even if the channel ignores its signal: resolves with the
   * error, or undefined once the channel delivered. Timeout and remove() end it through `abort`.
   */
  #send(lane: Lane, delivery: Delivery): Promise<Error | undefined> {
    const abort = new AbortController();
    const { timeoutMs } = this.options;
    lane.abort = abort;
    return new Promise((resolve) => {
      let settled = false;
      const timer = this.#clock.setTimeout(() => abort.abort(timeoutError(timeoutMs)), timeoutMs);
      const settle = (error: Error | undefined): void => {
        if (settled) return;
        settled = true;
        this.#clock.clearTimeout(timer);
        abort.signal.removeEventListener('abort', onAbort);
        lane.abort = undefined;
        resolve(error);
      };
      const onAbort = (): void => settle(toError(abort.signal.reason));
      this.#startSend(lane, delivery, abort.signal).then(
        () => settle(undefined),
        (error: unknown) => settle(toError(error)),
      );
      // After send(): a channel that fails at once on abort reports its own, fuller message.
      abort.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  // A channel that throws instead of rejecting fails this try, not the notifier.
  #startSend(lane: Lane, delivery: Delivery, signal: AbortSignal): Promise<void> {
    try {
      return this.#channel.send(lane.target, delivery.patch, signal);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #delivered(lane: Lane, delivery: Delivery): void {
    lane.head = undefined;
    lane.failingSince = undefined;
    this.#release(lane, delivery);
    delivery.settle(true);
    const { target } = lane;
    const latencyMs = this.#clock.now() - delivery.enqueuedAt;
    this.#emit({ type: 'delivered', target, revision: delivery.patch.Revision, attempts: delivery.attempts, latencyMs });
    this.#pump(lane);
  }

  // The head stays in place: later patches must not overtake it.
  #scheduleRetry(lane: Lane, delivery: Delivery, error: Error): void {
    const retryInMs = this.#backoff(delivery.attempts);
    lane.retry = this.#clock.setTimeout(() => {
      lane.retry = undefined;
      this.#pump(lane);
    }, retryInMs);
    const { target } = lane;
    const { Revision: revision } = delivery.patch;
    this.#emit({ type: 'failed', target, revision, attempt: delivery.attempts, error: error.message, retryInMs });
  }

  #backoff(attempt: number): number {
    const { retryBaseMs, retryMaxMs } = this.options;
    return withJitter(Math.min(retryBaseMs * 2 ** (attempt - 1), retryMaxMs), JITTER_RATIO, this.#random);
  }

  /** Drops what `lane` holds; with `keepInFlight`, a head being sent stays to finish. */
  #dropAll(lane: Lane, reason: DropReason, { keepInFlight = false } = {}): void {
    if (lane.retry) this.#clock.clearTimeout(lane.retry);
    lane.retry = undefined;
    const keepHead = keepInFlight && lane.sending !== undefined;
    const dropped = lane.waiting.splice(0);
    if (lane.head && !keepHead) dropped.unshift(lane.head);
    if (!keepHead) lane.head = undefined;
    this.#drop(lane, dropped, reason);
    this.#pump(lane);
  }

  #drop(lane: Lane, deliveries: Delivery[], reason: DropReason): void {
    for (const delivery of deliveries) {
      this.#release(lane, delivery);
      delivery.settle(false);
    }
    if (deliveries.length === 0) return;
    const { target } = lane;
    const revisions = deliveries.map((delivery) => delivery.patch.Revision);
    this.#emit({ type: 'dropped', target, count: deliveries.length, reason, revisions });
  }

  // A listener's bug is reported; it must not break delivery, nor turn enqueue()'s promise into a rejection.
  #emit(event: NotifierEvent): void {
    callListener(this.#logger, `notification ${event.type}`, () => this.#onEvent(event));
  }

  async #atMost(work: Promise<unknown>, ms: number): Promise<void> {
    const done = new AbortController();
    await Promise.race([work, sleep(this.#clock, ms, done.signal)]);
    done.abort();
  }
}

function timeoutError(ms: number): Error {
  return new DOMException(`timed out after ${ms} ms`, 'TimeoutError');
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** The notifier's part of the registry's limits, checked as the registry checks them. */
function resolveNotifierLimits(given: Partial<NotifierLimits> = {}): Readonly<NotifierLimits> {
  const { outboxBytesPerSubscriber, outboxBytesTotal, subscriberGiveUpMs } = resolveLimits(given);
  return Object.freeze({ outboxBytesPerSubscriber, outboxBytesTotal, subscriberGiveUpMs });
}

/** The Revision and PrevRevision keys of a body, counted at their longest (two 15-digit numbers). */
const REVISION_KEYS_BYTES = ',"Revision":,"PrevRevision":'.length + 2 * 15;
/** Added and Removed of one change are shared by all its targets: measured once per change. */
const listsBytesCache = new WeakMap<PatchEntry[], { removed: PatchEntry[]; bytes: number }>();

/**
 * What a queued patch counts against the outbox bounds: its body as sent (each revision counted
 * at 15 digits) and its target, which the store keeps with it. Memory and disk spend somewhat
 * more per patch (objects, rows, indexes); the bounds are on this count.
 */
export function patchBytes(target: string, { Added, Removed }: Pick<Patch, 'Added' | 'Removed'>): number {
  const cached = listsBytesCache.get(Added);
  if (cached?.removed === Removed) return target.length + cached.bytes;
  const bytes = Buffer.byteLength(JSON.stringify({ Added, Removed })) + REVISION_KEYS_BYTES;
  listsBytesCache.set(Added, { removed: Removed, bytes });
  return target.length + bytes;
}

/** The newest patch of a shrunk queue, emptied; it settles as the newest would have. */
function gapMarker(target: string, newest: Delivery, attempts: number): Delivery {
  const { Revision } = newest.patch;
  const patch: StampedPatch = { Added: [], Removed: [], Revision, PrevRevision: Revision };
  return { patch, enqueuedAt: newest.enqueuedAt, attempts, settle: newest.settle, bytes: patchBytes(target, patch) };
}

/** What `lane` holds once shrunk: the patch on the wire, if any, and a gap marker. */
function shrunkBytes(lane: Lane): number {
  const inFlight = lane.sending !== undefined && lane.head ? lane.head.bytes : 0;
  return inFlight + patchBytes(lane.target, { Added: EMPTY, Removed: EMPTY });
}

const EMPTY: PatchEntry[] = [];
