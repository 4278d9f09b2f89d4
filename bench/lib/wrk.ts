// GET load from wrk (Debian's package), a C load generator on one thread: it leaves the other
// core to the server, where autocannon (JavaScript) needs a core of its own to drive ~20,000
// requests/s. Bounded by duration only.
import { execFile, spawnSync } from 'node:child_process';
import type { LoadResult } from './load.js';

export interface WrkOptions {
  connections: number;
  durationMs: number;
  /** Sent with every request (the registry's Authorization). */
  headers?: Record<string, string>;
}

/** True when `wrk` is on the PATH. */
export function wrkInstalled(): boolean {
  return spawnSync('sh', ['-c', 'command -v wrk'], { stdio: 'ignore' }).status === 0;
}

export async function hammerWithWrk(url: string, options: WrkOptions): Promise<LoadResult> {
  const seconds = Math.max(1, Math.round(options.durationMs / 1000));
  const args = wrkArgs(url, options);
  const output = await new Promise<string>((resolve, reject) => {
    execFile('wrk', args, { timeout: (seconds + 30) * 1000 }, (error, stdout, stderr) => (error ? reject(new Error(`wrk failed: ${stderr || error.message}`)) : resolve(stdout)));
  });
  return parseWrkOutput(output);
}

/** wrk's command line: one thread, `-H` per header, latency percentiles. */
export function wrkArgs(url: string, { connections, durationMs, headers = {} }: WrkOptions): string[] {
  const seconds = Math.max(1, Math.round(durationMs / 1000));
  const headerArgs = Object.entries(headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]);
  return ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '10s', ...headerArgs, url];
}

/** Reads the summary wrk prints with --latency. */
export function parseWrkOutput(output: string): LoadResult {
  const totals = /(\d+) requests in ([\d.]+)(us|ms|s|m)\b/.exec(output);
  if (!totals) throw new Error(`unexpected wrk output:\n${output}`);
  const requests = Number(totals[1]);
  const elapsedMs = toMs(Number(totals[2]), totals[3]!);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const failures = socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  const ok = requests - non2xx;
  const errors = non2xx + failures;
  return {
    count: ok,
    errors,
    firstError: errors > 0 ? `${non2xx} non-2xx answers, ${failures} socket errors` : null,
    elapsedMs,
    perSecond: (ok / elapsedMs) * 1000,
    latency: { count: ok, p50: percentile(output, '50'), p99: percentile(output, '99'), max: latencyStat(output, 2), mean: latencyStat(output, 0) },
  };
}

function percentile(output: string, which: string): number {
  const match = new RegExp(`^\\s*${which}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(output);
  return match ? toMs(Number(match[1]), match[2]!) : Number.NaN;
}

// "Latency   1.23ms  456.00us  12.34ms  90.12%": average, stdev, max.
function latencyStat(output: string, column: number): number {
  const match = /^\s*Latency\s+([\d.]+)(us|ms|s|m)\s+([\d.]+)(us|ms|s|m)\s+([\d.]+)(us|ms|s|m)/m.exec(output);
  if (!match) return Number.NaN;
  return toMs(Number(match[1 + column * 2]), match[2 + column * 2]!);
}

function toMs(value: number, unit: string): number {
  const factor: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };
  return value * (factor[unit] ?? Number.NaN);
}
