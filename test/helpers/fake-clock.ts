import type { Clock, TimerHandle } from '../../src/shared/clock.js';

interface PendingTimer {
  id: number;
  at: number;
  fn: () => void;
}

// A timer that reschedules itself at 0 ms would keep tick() firing forever: fail instead.
const MAX_TIMERS_PER_TICK = 10_000;
// Work that keeps touching the clock round after round without settling is a loop, not a chain.
const MAX_SETTLE_ROUNDS = 1_000;

/** A clock that moves only when a test tells it to. */
export class FakeClock implements Clock {
  #now: number;
  #timers: PendingTimer[] = [];
  #nextId = 1;
  /** Counts every setTimeout and clearTimeout: settle() watches it to see work still going on. */
  #activity = 0;

  constructor(start = Date.parse('2026-01-01T00:00:00Z')) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = { id: this.#nextId++, at: this.#now + Math.max(0, ms), fn };
    this.#timers.push(timer);
    this.#activity++;
    return timer.id as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers = this.#timers.filter((timer) => timer.id !== (handle as unknown as number));
    this.#activity++;
  }

  /** How many timers are waiting. */
  get pending(): number {
    return this.#timers.length;
  }

  /**
   * Moves time forward by `ms`, firing due timers in order. Before each timer and at the end it
   * lets the work already started settle, so that async work started by one timer can schedule
   * the next.
   */
  async tick(ms: number): Promise<void> {
    const end = this.#now + ms;
    await this.settle();
    for (let fired = 0; ; fired++) {
      const next = this.#earliestDue(end);
      if (!next) break;
      if (fired === MAX_TIMERS_PER_TICK) throw new Error(`FakeClock: more than ${MAX_TIMERS_PER_TICK} timers fell due in one tick (a timer that reschedules itself at 0 ms?)`);
      this.#timers = this.#timers.filter((timer) => timer !== next);
      this.#now = Math.max(this.#now, next.at);
      next.fn();
      await this.settle();
    }
    this.#now = end;
    await this.settle();
  }

  /**
   * Resolves once the work already started has settled: every queued promise callback has run
   * (a setImmediate round comes only after the microtask queue is empty, and after the I/O
   * callbacks already due), and a whole round went by without a timer set or cleared.
   */
  async settle(): Promise<void> {
    for (let round = 0; round < MAX_SETTLE_ROUNDS; round++) {
      const before = this.#activity;
      await nextMacrotask();
      if (this.#activity === before) return;
    }
    throw new Error(`FakeClock: work kept setting timers for ${MAX_SETTLE_ROUNDS} rounds without settling`);
  }

  #earliestDue(end: number): PendingTimer | undefined {
    let earliest: PendingTimer | undefined;
    for (const timer of this.#timers) {
      if (timer.at <= end && (!earliest || timer.at < earliest.at)) earliest = timer;
    }
    return earliest;
  }
}

/** Lets every queued promise callback (and those they queue) run, and the I/O callbacks already due. */
export function flushMicrotasks(): Promise<void> {
  return nextMacrotask();
}

function nextMacrotask(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}
