// Everything a scenario starts (processes, servers, clients, temp dirs) is registered with a
// scope and undone when the scope ends, whether the scenario finished or threw. Processes still
// alive when the bench process exits are SIGKILLed as a last resort.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Disposer = () => unknown;

const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();

process.once('exit', () => {
  for (const child of liveChildren) killQuietly(child, 'SIGKILL');
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
});

export class Scope {
  readonly #disposers: Disposer[] = [];

  /** Runs `dispose` when the scope closes; the last added runs first. */
  defer(dispose: Disposer): void {
    this.#disposers.push(dispose);
  }

  /** A fresh temporary directory, removed when the scope closes. */
  tempDir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), `roster-bench-${prefix}-`));
    liveDirs.add(dir);
    this.defer(() => {
      rmSync(dir, { recursive: true, force: true });
      liveDirs.delete(dir);
    });
    return dir;
  }

  /** Tracks a child so that it is killed at the latest when the bench process exits. */
  adopt(child: ChildProcess): void {
    liveChildren.add(child);
    child.once('exit', () => liveChildren.delete(child));
  }

  async close(): Promise<void> {
    for (const dispose of this.#disposers.splice(0).reverse()) {
      try {
        await dispose();
      } catch (error) {
        console.error(`bench: cleanup step failed: ${(error as Error).message}`);
      }
    }
  }
}

/** Runs `body` with a scope that is closed afterwards, also when `body` throws. */
export async function withScope<T>(body: (scope: Scope) => Promise<T>): Promise<T> {
  const scope = new Scope();
  try {
    return await body(scope);
  } finally {
    await scope.close();
  }
}

export function killQuietly(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    child.kill(signal);
  } catch {
    // already gone
  }
}
