// Runs Roster's programs as real child processes and reads what they print, line by line.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

export const ROSTER_CLI = fileURLToPath(new URL('../../src/cli/roster.ts', import.meta.url));

export class NodeProcess {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  output = '';
  #waiters: Array<() => void> = [];
  readonly exited: Promise<[number | null, NodeJS.Signals | null]>;

  /** Runs `node [--import tsx] ...args`; plain JS (`tsx: false`) runs as a user's code would. */
  constructor(t: TestContext, args: string[], env: Record<string, string> = {}, { tsx = true } = {}) {
    this.child = spawn(process.execPath, [...(tsx ? ['--import', 'tsx'] : []), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ROSTER_LOG_LEVEL: 'info', ...env },
    });
    this.exited = once(this.child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.#push(line));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    void this.exited.then(() => this.#wake());
    t.after(() => this.kill('SIGKILL'));
  }

  /** Lines printed as JSON objects (others are skipped). */
  get events(): Array<Record<string, unknown>> {
    return this.lines.flatMap((line) => {
      try {
        const value: unknown = JSON.parse(line);
        return typeof value === 'object' && value !== null ? [value as Record<string, unknown>] : [];
      } catch {
        return [];
      }
    });
  }

  /** Resolves with the first JSON line that matches; rejects if the process exits first. */
  waitForEvent(match: (event: Record<string, unknown>) => boolean, from = 0): Promise<Record<string, unknown>> {
    return this.#waitFor(() => this.events.slice(from).find(match));
  }

  /** Resolves with the first line (from line `from` on) that matches `pattern`. */
  waitForLine(pattern: RegExp, from = 0): Promise<string> {
    return this.#waitFor(() => this.lines.slice(from).find((line) => pattern.test(line)));
  }

  async #waitFor<T>(find: () => T | undefined): Promise<T> {
    for (;;) {
      const found = find();
      if (found !== undefined) return found;
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`process exited (${this.child.exitCode ?? this.child.signalCode}) before printing the awaited line; it printed:\n${this.output}\n${this.lines.join('\n')}`);
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  kill(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }

  #push(line: string): void {
    this.lines.push(line);
    this.output += `${line}\n`;
    this.#wake();
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }
}

export interface RegistryProcess {
  process: NodeProcess;
  url: string;
  /** Where it keeps admin.token (and its state, with --store sqlite). */
  dataDir: string;
  /** The admin token it made on first start ('' with --insecure). */
  adminToken: string;
}

/** A scratch folder removed after the test. */
export function scratchDir(t: TestContext, prefix = 'roster-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The admin token a registry wrote in its data folder. */
export function readAdminToken(dataDir: string): string {
  return readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
}

/** `{ authorization: 'Bearer …' }` for fetch and undici. */
export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

/** Starts `roster registry` on a free port (its data in a scratch folder unless --data-dir is given) and resolves once it listens. */
export async function startRegistryProcess(t: TestContext, flags: string[] = []): Promise<RegistryProcess> {
  const store = flags.includes('--store') ? [] : ['--store', 'memory'];
  const given = flags.indexOf('--data-dir');
  const dataDir = given === -1 ? scratchDir(t, 'roster-registry-') : (flags[given + 1] as string);
  const data = given === -1 ? ['--data-dir', dataDir] : [];
  const registry = new NodeProcess(t, [ROSTER_CLI, 'registry', '--host', '127.0.0.1', '--port', '0', ...store, ...data, ...flags]);
  const listening = await registry.waitForEvent((e) => e.msg === `registry listening on ${String(e.url)}`);
  // With --insecure there is no admin token: nothing to send.
  const adminToken = flags.includes('--insecure') ? '' : readAdminToken(dataDir);
  return { process: registry, url: String(listening.url), dataDir, adminToken };
}

/** A port that was free a moment ago, for a process that must come back at the same URL. */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}
