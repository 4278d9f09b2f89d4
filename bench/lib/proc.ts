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
  const { userMs, systemMs } = cpuTimes(pid);
  return userMs + systemMs;
}

/** CPU time of `pid` in milliseconds, in user space and in the kernel (syscalls: sockets, timers). */
export function cpuTimes(pid: number): { userMs: number; systemMs: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const toMs = (ticks: string | undefined): number => (Number(ticks) / clockTicks()) * 1000;
  return { userMs: toMs(fields[11]), systemMs: toMs(fields[12]) };
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
  /** The part of cpuPercent spent in the kernel. */
  systemPercent: number;
  rssMeanBytes: number;
  rssMaxBytes: number;
  windowMs: number;
}

/** Watches `pid` for `windowMs`, sampling RSS every `everyMs`. */
export async function sampleUsage(pid: number, windowMs: number, everyMs = 1000): Promise<UsageSample> {
  const rss: number[] = [rssBytes(pid)];
  const cpuStart = cpuTimes(pid);
  const started = performance.now();
  while (performance.now() - started < windowMs) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(everyMs, windowMs - (performance.now() - started))));
    rss.push(rssBytes(pid));
  }
  const elapsed = performance.now() - started;
  const cpuEnd = cpuTimes(pid);
  const userMs = cpuEnd.userMs - cpuStart.userMs;
  const systemMs = cpuEnd.systemMs - cpuStart.systemMs;
  return {
    cpuPercent: ((userMs + systemMs) / elapsed) * 100,
    systemPercent: (systemMs / elapsed) * 100,
    rssMeanBytes: rss.reduce((a, b) => a + b, 0) / rss.length,
    rssMaxBytes: Math.max(...rss),
    windowMs: elapsed,
  };
}

/** Open file descriptors of `pid` (sockets included). */
export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}
