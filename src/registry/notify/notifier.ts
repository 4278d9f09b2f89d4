// Delivers patches to subscribers: one ordered queue per target, one send in flight per
// target, retried with backoff until it lands or the subscriber is removed. Each target runs
// on its own; nothing one target does can hold another back.

import type { Patch, PatchEntry } from '../../protocol/course.js';
import { checkOption } from '../../protocol/errors.js';
import { type Clock, type TimerHandle, sleep, systemClock, withJitter } from '../../shared/clock.js';
import type { NotificationChannel } from './channel.js';

export interface NotifierOptions {
  /** How long one send may take before it is aborted and retried. */
  timeoutMs: number;
  /** Wait before the first retry; doubles with each failed attempt. */
  retryBaseMs: number;
  /** Longest wait between two attempts (before jitter). */
  retryMaxMs: number;
  /** Patches waiting per target (not counting the one being sent); the oldest go beyond it. */
  maxQueue: number;
}

export const DEFAULT_NOTIFIER_OPTIONS: Readonly<NotifierOptions> = Object.freeze({
  timeoutMs: 2_000,
  retryBaseMs: 250,
  retryMaxMs: 30_000,
  maxQueue: 10_000,
});

export type NotifierEvent =
  | { type: 'enqueued'; target: string; patch: StampedPatch }
  | { type: 'delivered'; target: string; revision: number; attempts: number; latencyMs: number }
  | { type: 'failed'; target: string; revision: number; attempt: number; error: string; retryInMs: number }
  | { type: 'dropped'; target: string; count: number; reason: DropReason; revisions: number[] };

/** A patch as it is sent: with the revision of the one before it to the same target. */
export type StampedPatch = Patch & { Revision: number; PrevRevision: number };

export type DropReason = 'removed' | 'overflow' | 'closed';

export interface NotifierInit {
  channel: NotificationChannel;
  clock?: Clock;
  options?: Partial<NotifierOptions>;
  onEvent?: (event: NotifierEvent) => void;
  /** Source of jitter; tests pass a fixed one. */
  random?: () => number;
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
}

export class Notifier {
  readonly options: Readonly<NotifierOptions>;
  readonly #channel: NotificationChannel;
  readonly #clock: Clock;
  readonly #onEvent: (event: NotifierEvent) => void;
  readonly #random: () => number;
  readonly #lanes = new Map<string, Lane>();
  /** Lanes with a new patch whose send has not been started yet. */
  readonly #toStart = new Set<Lane>();
  #startScheduled = false;
  /** Revision of the last patch enqueued per target, stamped as the next one's PrevRevision. */
  readonly #lastRevision = new Map<string, number>();
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(init: NotifierInit) {
    this.options = validateOptions({ ...DEFAULT_NOTIFIER_OPTIONS, ...init.options });
    this.#channel = init.channel;
    this.#clock = init.clock ?? systemClock;
    this.#onEvent = init.onEvent ?? (() => {});
    this.#random = init.random ?? Math.random;
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
    return new Promise((settle) => {
      const lane = this.#lane(target);
      const stamped = this.#stamp(target, patch, prevRevision);
      this.#emit({ type: 'enqueued', target, patch: stamped });
      lane.waiting.push({ patch: stamped, enqueuedAt: this.#clock.now(), attempts: 0, settle });
      this.#trim(lane);
      this.#startSoon(lane);
    });
  }

  /** Cuts short a waiting retry of `target`, e.g. because the subscriber just re-registered. */
  retryNow(target: string): void {
    const lane = this.#lanes.get(target);
    if (!lane?.retry) return;
    this.#clock.clearTimeout(lane.retry);
    lane.retry = undefined;
    this.#pump(lane);
  }

  /** The subscriber is gone: drops its queue and aborts its send. Its next patch starts at PrevRevision 0. */
  remove(target: string): void {
    this.#lastRevision.delete(target);
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
  }

  #lane(target: string): Lane {
    let lane = this.#lanes.get(target);
    if (!lane) {
      lane = { target, waiting: [], gone: false };
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
    if (excess > 0) this.#drop(lane.target, lane.waiting.splice(next, excess), 'overflow');
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
    else this.#scheduleRetry(lane, delivery, error);
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
    this.#drop(lane.target, dropped, reason);
    this.#pump(lane);
  }

  #drop(target: string, deliveries: Delivery[], reason: DropReason): void {
    for (const delivery of deliveries) delivery.settle(false);
    if (deliveries.length === 0) return;
    const revisions = deliveries.map((delivery) => delivery.patch.Revision);
    this.#emit({ type: 'dropped', target, count: deliveries.length, reason, revisions });
  }

  // A listener's bug must not break delivery, nor turn enqueue()'s promise into a rejection.
  #emit(event: NotifierEvent): void {
    try {
      this.#onEvent(event);
    } catch {
      // ignored on purpose
    }
  }

  async #atMost(work: Promise<unknown>, ms: number): Promise<void> {
    const done = new AbortController();
    await Promise.race([work, sleep(this.#clock, ms, done.signal)]);
    done.abort();
  }
}

function validateOptions(options: NotifierOptions): Readonly<NotifierOptions> {
  for (const name of ['timeoutMs', 'retryBaseMs', 'retryMaxMs', 'maxQueue'] as const) {
    const value = options[name];
    checkOption(Number.isInteger(value) && value > 0, name, 'a positive integer');
  }
  checkOption(options.retryMaxMs >= options.retryBaseMs, 'retryMaxMs', 'at least retryBaseMs');
  return Object.freeze({ ...options });
}

function timeoutError(ms: number): Error {
  return new DOMException(`timed out after ${ms} ms`, 'TimeoutError');
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
