// A closed-loop load generator: `concurrency` workers each run `task` back to back, bounded by
// a request count and a duration, whichever comes first.
import { performance } from 'node:perf_hooks';
import { summarize, type Summary } from './stats.js';

export interface LoadOptions {
  concurrency: number;
  durationMs: number;
  maxCount: number;
  /**
   * One unit of work (numbered from 0). Its latency is what it returns (ms), or its whole
   * duration when it returns nothing.
   */
  task: (index: number) => Promise<number | void>;
}

export interface LoadResult {
  count: number;
  errors: number;
  firstError: string | null;
  elapsedMs: number;
  perSecond: number;
  latency: Summary;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  let firstError: string | null = null;
  const started = performance.now();
  const deadline = started + options.durationMs;
  const worker = async (): Promise<void> => {
    while (next < options.maxCount && performance.now() < deadline) {
      const index = next++;
      const begin = performance.now();
      try {
        const latency = await options.task(index);
        latencies.push(typeof latency === 'number' ? latency : performance.now() - begin);
      } catch (error) {
        errors += 1;
        firstError ??= (error as Error).message;
        // A failing target should not turn the loop into a busy spin.
        if (errors > 100 && errors > latencies.length) throw new Error(`too many failures; first: ${firstError}`);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const elapsedMs = performance.now() - started;
  return { count: latencies.length, errors, firstError, elapsedMs, perSecond: (latencies.length / elapsedMs) * 1000, latency: summarize(latencies) };
}
