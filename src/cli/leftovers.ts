// `roster up` writes the process id of each part it starts to `<data dir>/up.pids`, and removes
// the file once it has stopped them. A later `roster up` that finds a port taken reads the file: a
// part of an earlier run still alive on that port is named, with the command that stops it,
// rather than left for the user to hunt down.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface StartedPart {
  /** The part's subcommand: registry, log, grading, portal. */
  part: string;
  pid: number;
  port: number;
}

export function pidsFile(dataDir: string): string {
  return join(dataDir, 'up.pids');
}

/** Written after each start: a `roster up` killed mid-way leaves the parts it had started named. */
export function recordStartedParts(dataDir: string, parts: readonly StartedPart[]): void {
  writeFileSync(pidsFile(dataDir), `${JSON.stringify({ parts }, null, 2)}\n`, { mode: 0o600 });
}

export function forgetStartedParts(dataDir: string): void {
  rmSync(pidsFile(dataDir), { force: true });
}

/** The part of an earlier `roster up` that is still running on `port`, if the file names one. */
export function leftoverOnPort(dataDir: string, port: number): StartedPart | undefined {
  return readStartedParts(dataDir).find((entry) => entry.port === port && isRunningPart(entry));
}

function readStartedParts(dataDir: string): StartedPart[] {
  try {
    const { parts } = JSON.parse(readFileSync(pidsFile(dataDir), 'utf8')) as { parts?: unknown };
    return Array.isArray(parts) ? parts.filter(isStartedPart) : [];
  } catch {
    // No file (the usual case), or not ours to read: nothing known, the generic message stands.
    return [];
  }
}

function isStartedPart(value: unknown): value is StartedPart {
  const entry = value as Partial<StartedPart> | null;
  return typeof entry?.part === 'string' && Number.isSafeInteger(entry.pid) && (entry.pid ?? 0) > 0 && typeof entry.port === 'number';
}

/** Alive, and (where /proc tells) still running that part: a pid reused by another program is not named. */
function isRunningPart({ pid, part }: StartedPart): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    // ESRCH: gone. EPERM: alive, but another user's, so not one of ours.
    return false;
  }
  const args = commandLine(pid);
  return args === undefined || args.includes(part);
}

function commandLine(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined;
  }
}
