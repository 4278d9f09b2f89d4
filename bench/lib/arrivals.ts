// Records when each subscriber heard of a change, by key (e.g. "+<url>" for Added), and lets a
// scenario wait until all of its subscribers have heard, within a time limit.

export class Arrivals {
  readonly #times = new Map<string, number[]>();
  readonly #waiters = new Map<string, { count: number; wake: () => void }>();

  record(key: string, at: number): void {
    const times = this.#times.get(key) ?? [];
    times.push(at);
    this.#times.set(key, times);
    const waiter = this.#waiters.get(key);
    if (waiter && times.length >= waiter.count) waiter.wake();
  }

  /** Drops what arrived for `key` so far (e.g. a spurious removal before the real one). */
  forget(key: string): void {
    this.#times.delete(key);
  }

  /** Resolves with the arrival times once `count` arrived for `key`; rejects after `timeoutMs`. */
  async waitFor(key: string, count: number, timeoutMs: number): Promise<number[]> {
    const have = (): number[] => this.#times.get(key) ?? [];
    if (have().length < count) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.#waiters.delete(key);
          reject(new Error(`only ${have().length} of ${count} subscribers heard "${key}" within ${timeoutMs} ms`));
        }, timeoutMs);
        this.#waiters.set(key, {
          count,
          wake: () => {
            clearTimeout(timer);
            this.#waiters.delete(key);
            resolve();
          },
        });
      });
    }
    const times = have();
    this.#times.delete(key);
    return times;
  }
}
