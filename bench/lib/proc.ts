// CPU time and resident memory of another process, read from /proc (Linux).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  ticksPerSecond ??= (() => {
    try {
      return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      return 100;
    }
  })();
  return ticksPerSecond;
}

/** User + system CPU time of `pid` in milliseconds. */
export function cpuTimeMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) / clockTicks()) * 1000;
}

/** Resident set size of `pid` in bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

export interface UsageSample {
  /** CPU time used during the window, as a percentage of one core. */
  cpuPercent: number;
  rssMeanBytes: number;
  rssMaxBytes: number;
  windowMs: number;
}

/** Watches `pid` for `windowMs`, sampling RSS every `everyMs`. */
export async function sampleUsage(pid: number, windowMs: number, everyMs = 1000): Promise<UsageSample> {
  const rss: number[] = [rssBytes(pid)];
  const cpuStart = cpuTimeMs(pid);
  const started = performance.now();
  while (performance.now() - started < windowMs) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(everyMs, windowMs - (performance.now() - started))));
    rss.push(rssBytes(pid));
  }
  const elapsed = performance.now() - started;
  const cpu = cpuTimeMs(pid) - cpuStart;
  return {
    cpuPercent: (cpu / elapsed) * 100,
    rssMeanBytes: rss.reduce((a, b) => a + b, 0) / rss.length,
    rssMaxBytes: Math.max(...rss),
    windowMs: elapsed,
  };
}

/** Open file descriptors of `pid` (sockets included). */
export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}
