// Waits for a file to show something, re-reading it at each change its folder reports (fs.watch),
// rather than polling it on a timer.
import { readFileSync } from 'node:fs';
import { watch } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

/**
 * Resolves with what `check` finds in `file` once it finds something; fails with `what` if
 * nothing came within `timeoutMs`. `check` sees whole lines only: a write may be under way.
 */
export async function untilFileShows<T>(what: string, file: string, check: (lines: string[]) => T | undefined, timeoutMs = 10_000): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  // Watching starts before the first read, so that no write falls between the two.
  const changes = watch(dirname(file), { signal: controller.signal });
  try {
    const now = check(wholeLines(file));
    if (now !== undefined) return now;
    for await (const change of changes) {
      if (change.filename !== basename(file)) continue;
      const found = check(wholeLines(file));
      if (found !== undefined) return found;
    }
  } catch (error) {
    if ((error as Error).name !== 'AbortError') throw error;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}`);
}

function wholeLines(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').slice(0, -1).filter(Boolean);
}
