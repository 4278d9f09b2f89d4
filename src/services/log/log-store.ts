// The log file: one JSON object per line, rotated by size, durable when append() resolves.
// Concurrent appends share one write and one fdatasync (group commit), so a busy service
// pays for a disk flush per batch, not per entry.
import { mkdirSync } from 'node:fs';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { storeClosed } from '../../protocol/errors.js';
import { resolveOptions, text, wholeNumber } from '../../shared/options.js';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Limits of the log service's API, shared by the app and the service logger. */
export const LOG_LIMITS = {
  /** Longest message, in UTF-8 bytes. */
  messageBytes: 16 * 1024,
  /** Most entries in one POST /v1/logs. */
  batchEntries: 1_000,
  /** Largest POST /v1/logs body. */
  batchBodyBytes: 4 * 1024 * 1024,
  /** Most entries one GET /v1/logs returns. */
  queryLimit: 1_000,
} as const;

export interface LogEntry {
  /** ISO 8601, UTC. */
  time: string;
  service: string;
  level: LogLevel;
  message: string;
  /** The time the writer said it logged the entry (ISO 8601, UTC); `time` is when the log service received it. */
  clientTime?: string;
}

export interface RecentQuery {
  service?: string;
  /** Minimum level: "warn" returns warn, error and fatal. */
  level?: LogLevel;
  /** Default 100. */
  limit?: number;
}

/** What the HTTP app needs of a store; tests may hand in their own. */
export interface LogStore {
  /** Resolves once every entry is on disk. */
  append(entries: LogEntry | readonly LogEntry[]): Promise<void>;
  /** Recent entries, newest first. */
  recent(query?: RecentQuery): LogEntry[];
  /** Finishes pending appends, then closes the file. Idempotent. */
  close(): Promise<void>;
}

/** The log file's options, with their defaults. */
const logStoreOptionsSchema = z.strictObject({
  /** Folder of the log file, created when missing. */
  dir: text('a folder path').default('./data/log'),
  /** File name inside `dir`. */
  file: text('a file name without a folder')
    .refine((name) => !/[\\/]/.test(name))
    .default('roster.log'),
  /** Rotate before a write would make the file larger than this. */
  maxBytes: wholeNumber(1, undefined, 'bytes').default(10 * 1024 * 1024),
  /** Rotated files kept: roster.log.1 (newest) … roster.log.<maxFiles>. */
  maxFiles: wholeNumber(0, 1000).default(5),
  /** Entries kept in memory for recent(). */
  recentLimit: wholeNumber(1).default(5_000),
});

export type LogStoreOptions = z.input<typeof logStoreOptionsSchema>;
type ResolvedStoreOptions = Readonly<z.output<typeof logStoreOptionsSchema>>;

export const DEFAULT_LOG_STORE_OPTIONS: ResolvedStoreOptions = resolveStoreOptions({});

const TAIL_CHUNK_BYTES = 64 * 1024;
const NEWLINE = 0x0a;

/** Opens (creating folder and file when missing) and loads the current file's tail. */
export async function openLogStore(options: LogStoreOptions = {}): Promise<FileLogStore> {
  const resolved = resolveStoreOptions(options);
  mkdirSync(resolved.dir, { recursive: true });
  const path = join(resolved.dir, resolved.file);
  const handle = await open(path, 'a+');
  try {
    const { size } = await handle.stat();
    const tail = await readTail(handle, size, resolved.recentLimit);
    return new FileLogStore(resolved, path, handle, size, tail);
  } catch (error) {
    await handle.close();
    throw error;
  }
}

function resolveStoreOptions(options: LogStoreOptions): ResolvedStoreOptions {
  return resolveOptions(logStoreOptionsSchema, options, { owner: 'the log store' });
}

interface PendingAppend {
  entries: readonly LogEntry[];
  resolve(): void;
  reject(error: unknown): void;
}

export class FileLogStore implements LogStore {
  readonly options: ResolvedStoreOptions;
  /** The current file. */
  readonly path: string;
  #handle: FileHandle;
  #size: number;
  /** The file may end in a torn line (a crash or a failed write): start the next write on a fresh line. */
  #needsNewline: boolean;
  readonly #ring: Ring<LogEntry>;
  #pending: PendingAppend[] = [];
  #loop: Promise<void> | null = null;
  #closing: Promise<void> | null = null;

  constructor(options: ResolvedStoreOptions, path: string, handle: FileHandle, size: number, tail: Tail) {
    this.options = options;
    this.path = path;
    this.#handle = handle;
    this.#size = size;
    this.#needsNewline = !tail.endsWithNewline;
    this.#ring = new Ring(options.recentLimit);
    for (const entry of tail.entries) this.#ring.push(entry);
  }

  append(entries: LogEntry | readonly LogEntry[]): Promise<void> {
    if (this.#closing) return Promise.reject(storeClosed('the log store'));
    const list = isEntryList(entries) ? entries : [entries];
    if (list.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#pending.push({ entries: list, resolve, reject });
      this.#loop ??= this.#writeLoop();
    });
  }

  recent(query: RecentQuery = {}): LogEntry[] {
    const limit = query.limit ?? 100;
    const minRank = query.level ? levelRank(query.level) : 0;
    const found: LogEntry[] = [];
    for (const entry of this.#ring.newestFirst()) {
      if (found.length >= limit) break;
      if (query.service !== undefined && entry.service !== query.service) continue;
      if (levelRank(entry.level) >= minRank) found.push(entry);
    }
    return found;
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    await this.#loop;
    await this.#handle.close();
  }

  async #writeLoop(): Promise<void> {
    // Yield once so that appends made in the same tick join the first batch.
    await Promise.resolve();
    while (this.#pending.length > 0) await this.#commit(this.#pending.splice(0));
    // Cleared with no await since the last check: an append now starts a new loop.
    this.#loop = null;
  }

  /** One write and one datasync for every append waiting; never throws (the waiters get the error). */
  async #commit(batch: PendingAppend[]): Promise<void> {
    const entries = batch.flatMap((pending) => pending.entries);
    try {
      await this.#write(entries.map(toLine).join(''));
      for (const entry of entries) this.#ring.push(Object.freeze({ ...entry }));
      for (const pending of batch) pending.resolve();
    } catch (error) {
      // Part of the batch may be on disk: begin the next write on a line of its own.
      this.#needsNewline = true;
      for (const pending of batch) pending.reject(error);
    }
  }

  async #write(lines: string): Promise<void> {
    const bytes = Buffer.byteLength(lines);
    if (this.#size > 0 && this.#size + bytes > this.options.maxBytes) await this.#rotate();
    const data = Buffer.from(this.#needsNewline && this.#size > 0 ? `\n${lines}` : lines);
    await writeAll(this.#handle, data);
    this.#size += data.length;
    this.#needsNewline = false;
    await this.#handle.datasync();
  }

  /** roster.log.<n-1> → .<n>, …, roster.log → .1, then a fresh roster.log. */
  async #rotate(): Promise<void> {
    await this.#handle.close();
    try {
      for (let i = this.options.maxFiles - 1; i >= 1; i--) await renameIfExists(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      if (this.options.maxFiles > 0) await rename(this.path, `${this.path}.1`);
      else await unlink(this.path);
    } finally {
      // Even when a rename failed, keep a handle so that later appends can still succeed.
      this.#handle = await open(this.path, 'a+');
      this.#size = (await this.#handle.stat()).size;
      this.#needsNewline = this.#size > 0;
    }
    await syncFolder(this.options.dir);
  }
}

function isEntryList(value: LogEntry | readonly LogEntry[]): value is readonly LogEntry[] {
  return Array.isArray(value);
}

/** Fixed key order; JSON escaping keeps a message's newlines inside its own line. */
function toLine(entry: LogEntry): string {
  const { time, service, level, message, clientTime } = entry;
  return `${JSON.stringify(clientTime === undefined ? { time, service, level, message } : { time, service, level, message, clientTime })}\n`;
}

export function levelRank(level: LogLevel): number {
  return LOG_LEVELS.indexOf(level);
}

async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
}

async function renameIfExists(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** The renames and the new file's name are durable only once their folder is synced. */
async function syncFolder(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

interface Tail {
  entries: LogEntry[];
  endsWithNewline: boolean;
}

/** The last `count` valid entries of the file, read backwards in chunks. */
async function readTail(handle: FileHandle, size: number, count: number): Promise<Tail> {
  const chunks: Buffer[] = [];
  let position = size;
  let newlines = 0;
  // count + 1 newlines guarantee `count` whole lines after the first (possibly partial) one.
  while (position > 0 && newlines <= count) {
    const length = Math.min(TAIL_CHUNK_BYTES, position);
    position -= length;
    const chunk = Buffer.alloc(length);
    await handle.read(chunk, 0, length, position);
    chunks.unshift(chunk);
    newlines += countByte(chunk, NEWLINE);
  }
  const data = Buffer.concat(chunks);
  const lines = data.toString('utf8').split('\n');
  if (position > 0) lines.shift();
  const entries = lines.map(parseLine).filter((entry): entry is LogEntry => entry !== null);
  return { entries: entries.slice(-count), endsWithNewline: data.length === 0 || data[data.length - 1] === NEWLINE };
}

function countByte(buffer: Buffer, byte: number): number {
  let count = 0;
  for (let i = buffer.indexOf(byte); i !== -1; i = buffer.indexOf(byte, i + 1)) count++;
  return count;
}

/** An entry, or null for a blank, torn or foreign line. */
function parseLine(line: string): LogEntry | null {
  if (line.trim() === '') return null;
  try {
    const { time, service, level, message, clientTime } = JSON.parse(line) as Record<string, unknown>;
    const valid = typeof time === 'string' && typeof service === 'string' && typeof message === 'string';
    if (!valid || !LOG_LEVELS.includes(level as LogLevel)) return null;
    const entry: LogEntry = { time, service, level: level as LogLevel, message };
    if (typeof clientTime === 'string') entry.clientTime = clientTime;
    return Object.freeze(entry);
  } catch {
    return null;
  }
}

/** A fixed-size ring: the newest `capacity` items, overwriting the oldest. */
class Ring<T> {
  readonly #items: T[] = [];
  readonly #capacity: number;
  #next = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  push(item: T): void {
    this.#items[this.#next] = item;
    this.#next = (this.#next + 1) % this.#capacity;
  }

  *newestFirst(): Generator<T> {
    const size = this.#items.length;
    for (let i = 1; i <= size; i++) yield this.#items[(this.#next - i + size) % size] as T;
  }
}
