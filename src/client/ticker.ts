// Runs an async task over and over, `intervalMs` (with jitter) after the previous run ended,
// on an injected clock. Runs never overlap, and stop() waits for the one under way.
import { withJitter, type Clock, type TimerHandle } from '../shared/clock.js';

const JITTER = 0.1;

export class Ticker {
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #task: () => Promise<void>;
  readonly #onError: (error: unknown) => void;
  #timer: TimerHandle | null = null;
  #running: Promise<void> | null = null;
  #stopped = true;

  /** `onError` hears what the task let through (it handles its own errors): a bug, reported, and the loop goes on. */
  constructor(clock: Clock, intervalMs: number, task: () => Promise<void>, onError: (error: unknown) => void) {
    this.#clock = clock;
    this.#intervalMs = intervalMs;
    this.#task = task;
    this.#onError = onError;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    if (!this.#running) this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  #schedule(): void {
    // Jitter keeps many clients started together from hitting the registry in step.
    this.#timer = this.#clock.setTimeout(() => void this.#run(), withJitter(this.#intervalMs, JITTER));
  }

  async #run(): Promise<void> {
    this.#timer = null;
    // The task handles its own errors; what escapes it is reported, and the loop stays alive.
    this.#running = this.#task().catch(this.#onError);
    await this.#running;
    this.#running = null;
    if (!this.#stopped) this.#schedule();
  }
}
