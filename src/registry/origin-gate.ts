// Bounds what the registry sends towards one origin (scheme://host:port) at a time: patches and
// probes together. Many instances may sit behind one origin (one listener, one proxy); without a
// gate, one change or one probe round would open a request per instance at once, and the
// registry would amplify whatever registered those instances. Beyond the bound requests wait,
// first come first served; beyond the waiting bound they fail at once, and their callers retry
// as after any failure.

export interface OriginGateOptions {
  /** Requests in flight towards one origin. */
  concurrency: number;
  /** Requests waiting for a slot towards one origin; beyond it a request fails at once. */
  maxWaiting: number;
  /** Told of each request refused because too many were waiting. */
  onRefused?: (origin: string) => void;
}

interface Waiter {
  readonly start: () => void;
  readonly signal: AbortSignal;
  readonly onAbort: () => void;
}

interface OriginSlots {
  active: number;
  readonly waiting: Waiter[];
}

export class OriginGate {
  readonly options: Readonly<OriginGateOptions>;
  readonly #origins = new Map<string, OriginSlots>();

  constructor(options: OriginGateOptions) {
    this.options = Object.freeze({ ...options });
  }

  /**
   * Runs `task` once a slot towards the origin of `url` is free. Waiting ends early when `signal`
   * aborts (rejecting with its reason), or at once when too many are waiting already.
   */
  async run<T>(url: string, signal: AbortSignal, task: () => Promise<T>): Promise<T> {
    const origin = originOf(url);
    await this.#acquire(origin, signal);
    try {
      return await task();
    } finally {
      this.#release(origin);
    }
  }

  /** Requests in flight towards `url`'s origin. */
  active(url: string): number {
    return this.#origins.get(originOf(url))?.active ?? 0;
  }

  /** Requests waiting for a slot towards `url`'s origin. */
  waiting(url: string): number {
    return this.#origins.get(originOf(url))?.waiting.length ?? 0;
  }

  #acquire(origin: string, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(toError(signal.reason));
    const slots = this.#slots(origin);
    if (slots.active < this.options.concurrency) {
      slots.active += 1;
      return Promise.resolve();
    }
    if (slots.waiting.length >= this.options.maxWaiting) {
      this.options.onRefused?.(origin);
      return Promise.reject(new Error(`${this.options.maxWaiting} requests are already waiting towards ${origin} (limit outboundQueuePerOrigin)`));
    }
    return this.#wait(slots, signal);
  }

  #wait(slots: OriginSlots, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        signal,
        start: () => {
          signal.removeEventListener('abort', waiter.onAbort);
          resolve();
        },
        onAbort: () => {
          slots.waiting.splice(slots.waiting.indexOf(waiter), 1);
          reject(toError(signal.reason));
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      slots.waiting.push(waiter);
    });
  }

  // The slot passes straight to the next waiter, so a newcomer cannot overtake the queue.
  #release(origin: string): void {
    const slots = this.#origins.get(origin);
    if (!slots) return;
    const next = slots.waiting.shift();
    if (next) return next.start();
    slots.active -= 1;
    if (slots.active === 0) this.#origins.delete(origin);
  }

  #slots(origin: string): OriginSlots {
    let slots = this.#origins.get(origin);
    if (!slots) {
      slots = { active: 0, waiting: [] };
      this.#origins.set(origin, slots);
    }
    return slots;
  }
}

/** scheme://host:port of `url`; a URL that does not parse is its own origin (its request fails anyway). */
export function originOf(url: string): string {
  try {
    const { origin } = new URL(url);
    return origin === 'null' ? url : origin;
  } catch {
    return url;
  }
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason ?? 'aborted'));
}
