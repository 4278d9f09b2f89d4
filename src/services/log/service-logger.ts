// The logger of our own services: readable lines on stdout, and every entry shipped to
// whichever LogService instance the registry provides right now. While none is reachable the
// entries wait in a bounded buffer; what cannot wait goes to stderr, never silently away.
import { pino, type Logger, type LevelWithSilent } from 'pino';
import { z } from 'zod';
import { invalidOption } from '../../protocol/errors.js';
import { serviceName } from '../../protocol/validation.js';
import { systemClock, withJitter, type Clock, type TimerHandle } from '../../shared/clock.js';
import { durationMs, flag, func, oneOf, resolveOptions, wholeNumber, withMethods } from '../../shared/options.js';
import { LOG_LEVELS, LOG_LIMITS, type LogEntry, type LogLevel } from './log-store.js';
import { LOG_SERVICE } from '../names.js';

/** What the logger needs of a RegistryClient (a fake in tests). */
export interface LogProviderSource {
  /** A healthy instance URL of `service`; throws when there is none. */
  provider(service: string): string;
  on(event: 'change', listener: (change: ProviderChange) => void): unknown;
  off(event: 'change', listener: (change: ProviderChange) => void): unknown;
  /** A RegistryClient's options: its token is the logger's when the logger is given none. */
  readonly options?: { readonly token?: string | null };
}

export interface ProviderChange {
  service: string;
  added: string[];
  removed: string[];
}

export type LogFormat = 'readable' | 'json';

/** Where text goes: process.stdout, process.stderr, or a test's collector. */
export interface TextSink {
  write(text: string): unknown;
}

const sink = withMethods<TextSink>(['write'], 'an object with write()');
const providerSource = withMethods<LogProviderSource>(['provider', 'on', 'off'], 'a RegistryClient');
const aServiceName = z.custom<string>((value) => serviceName.safeParse(value).success, { error: 'a service name' });

/** A service logger's options, with their defaults. */
const serviceLoggerOptionsSchema = z.strictObject({
  /**
   * Where to find the LogService. Optional because a service's logger is needed before its
   * registry client exists (startService takes the app and its logger): hand it in later with
   * attach(); until then entries wait in the buffer.
   */
  client: providerSource.optional(),
  /** The name entries are logged under. */
  service: aServiceName,
  level: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Entries waiting for a LogService before the oldest spill to stderr. */
  bufferSize: wholeNumber(1).default(1_000),
  /** Readable lines on stdout (true), nowhere (false), or on the given sink. */
  stdout: z.union([flag(), sink], { error: 'true, false or an object with write()' }).default(true),
  /** How lines look there: readable, or JSON lines as pino writes them, for a log collector. */
  stdoutFormat: oneOf(['readable', 'json']).default('readable'),
  /** Where entries that cannot be delivered go. Default process.stderr. */
  stderr: sink.optional(),
  /** Default: the global fetch. */
  fetchImpl: func<typeof fetch>('a fetch function').optional(),
  /**
   * Sent as `Authorization: Bearer` to /v1/logs: the log service stores the entries under this
   * token's service. Default: the attached client's token, else ROSTER_TOKEN.
   */
  token: z.string({ error: 'a non-empty token of printable characters without spaces' }).refine(isToken).optional(),
  clock: withMethods<Clock>(['now', 'setTimeout', 'clearTimeout'], 'an object with now(), setTimeout() and clearTimeout()').default(systemClock),
  /** The registry name of the log service. */
  logService: aServiceName.default(LOG_SERVICE),
  /** Timeout of one POST. */
  requestTimeoutMs: durationMs(1).default(5_000),
  /** First retry delay after a failed send, doubled up to retryMaxMs. */
  retryInitialMs: durationMs(1).default(500),
  retryMaxMs: durationMs(1).default(30_000),
});

export type ServiceLoggerOptions = z.input<typeof serviceLoggerOptionsSchema>;

export interface ServiceLogger {
  logger: Logger;
  /** Ships through this client from now on (replacing any earlier one) and sends what waited. Ignored once closed. */
  attach(client: LogProviderSource): void;
  /** Sends what it can now; resolves (never rejects) when the buffer is empty or no LogService takes more. */
  flush(): Promise<void>;
  /** Flushes, then writes what is left to stderr and stops. Idempotent. */
  close(): Promise<void>;
}

const MAX_BATCH_ENTRIES = LOG_LIMITS.batchEntries;
/** Well under the app's body limit, so a batch is never refused for its size. */
const MAX_BATCH_BYTES = 1024 * 1024;
const TRUNCATED = ' …[truncated]';
const RETRY_JITTER = 0.2;

export function createServiceLogger(input: ServiceLoggerOptions): ServiceLogger {
  const options = resolveOptions(serviceLoggerOptionsSchema.transform(settle), input, { owner: 'createServiceLogger' });
  const shipper = new LogShipper(options);
  const logger = pino(
    {
      level: options.level,
      base: null,
      timestamp: () => `,"time":"${new Date(shipper.now()).toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
    },
    { write: (line: string) => shipper.accept(line) },
  );
  if (options.client) shipper.attach(options.client);
  return { logger, attach: (client) => shipper.attach(client), flush: () => shipper.flush(), close: () => shipper.close() };
}

type ShipperOptions = Readonly<{
  service: string;
  bufferSize: number;
  stdout: TextSink | null;
  stdoutFormat: LogFormat;
  stderr: TextSink;
  fetch: typeof fetch;
  token: string | null;
  clock: Clock;
  logService: string;
  requestTimeoutMs: number;
  retryInitialMs: number;
  retryMaxMs: number;
}>;

/** The defaults that are read when the logger is made (the process's streams, the global fetch). */
function settle({ client, level, stdout, stderr, fetchImpl, token, ...rest }: z.output<typeof serviceLoggerOptionsSchema>): ShipperOptions & { client?: LogProviderSource; level: LevelWithSilent } {
  return {
    ...rest,
    client,
    level,
    stdout: stdout === true ? process.stdout : stdout === false ? null : stdout,
    stderr: stderr ?? process.stderr,
    fetch: fetchImpl ?? globalThis.fetch,
    token: token ?? null,
  };
}

/** attach() takes what the `client` option takes. */
function checkClient(client: LogProviderSource): void {
  const checked = providerSource.safeParse(client);
  if (!checked.success) throw invalidOption('client', checked.error.issues[0]?.message ?? 'a RegistryClient');
}

/** An entry with its JSON, serialised once and reused for batching and sending. */
interface Queued {
  entry: LogEntry;
  json: string;
  bytes: number;
}

class LogShipper {
  readonly #o: ShipperOptions;
  /** None until attached: entries wait in the queue meanwhile. */
  #client: LogProviderSource | null = null;
  #queue: Queued[] = [];
  #running: Promise<void> | null = null;
  #retryTimer: TimerHandle | null = null;
  #failures = 0;
  #closed = false;
  #closing: Promise<void> | null = null;
  /** Providers that answered /v1/logs with 404: the course's Go log service, which speaks only POST /log. */
  readonly #courseProviders = new Set<string>();
  readonly #onChange = (change: ProviderChange): void => this.#providerChanged(change);

  constructor(options: ShipperOptions) {
    this.#o = options;
  }

  attach(client: LogProviderSource): void {
    checkClient(client);
    // A closed logger sends nothing more: listening would only leak the listener.
    if (this.#closing) return;
    this.#client?.off('change', this.#onChange);
    this.#client = client;
    client.on('change', this.#onChange);
    // Entries logged before there was a client waited in the buffer: send them now.
    if (this.#queue.length > 0) void this.flush();
  }

  now(): number {
    return this.#o.clock.now();
  }

  /** pino's destination: called with each serialised line. Never throws into the caller. */
  accept(line: string): void {
    try {
      const { entry, extras } = parsePinoLine(line, this.#o.service);
      this.#printReadable(entry, extras);
      this.#enqueue(withExtras(entry, extras));
    } catch (error) {
      this.#note(`could not handle a log line (${(error as Error)?.message}): ${line.trimEnd()}`);
    }
  }

  #printReadable(entry: LogEntry, extras: Record<string, unknown>): void {
    try {
      this.#o.stdout?.write(this.#o.stdoutFormat === 'json' ? pinoLine(entry, extras) : readableLine(entry, extras));
    } catch {
      // A broken stdout must not keep the entry from the log service.
    }
  }

  async flush(): Promise<void> {
    try {
      await this.#running;
      // An explicit flush does not wait out the backoff.
      this.#clearRetry();
      await this.#run();
    } catch (error) {
      this.#note(`flush failed: ${(error as Error)?.message}`);
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#client?.off('change', this.#onChange);
    await this.flush();
    this.#closed = true;
    // A pass started by an entry logged during the flush may still hold a batch.
    await this.#running;
    this.#clearRetry();
    this.#spill(this.#queue.splice(0), 'the logger closed before a LogService took them');
  }

  #enqueue(entry: LogEntry): void {
    const json = JSON.stringify(entry);
    if (this.#closed) return this.#spill([{ entry, json, bytes: 0 }], 'the logger is closed');
    this.#queue.push({ entry, json, bytes: Buffer.byteLength(json) });
    this.#trim();
    this.#kick();
  }

  /** Oldest first out: the newest entries are the ones worth shipping. */
  #trim(): void {
    const excess = this.#queue.length - this.#o.bufferSize;
    if (excess > 0) this.#spill(this.#queue.splice(0, excess), `buffer full (${this.#o.bufferSize} entries waiting for ${this.#o.logService})`);
  }

  #providerChanged(change: ProviderChange): void {
    if (change.service !== this.#o.logService || change.added.length === 0) return;
    // A new instance is worth trying at once, whatever the backoff of the last one said.
    this.#clearRetry();
    this.#failures = 0;
    this.#kick();
  }

  #kick(): void {
    if (this.#closed || this.#retryTimer !== null) return;
    void this.#run();
  }

  /** One pass at a time. */
  #run(): Promise<void> {
    this.#running ??= this.#drainThenRelease();
    return this.#running;
  }

  async #drainThenRelease(): Promise<void> {
    // Yield once: entries logged in the same tick go in the same batch.
    await Promise.resolve();
    try {
      await this.#drain();
    } catch (error) {
      this.#note(`shipping logs failed: ${(error as Error)?.message}`);
    }
    // Released with no await since the last look at the queue: a new entry starts a new pass.
    this.#running = null;
  }

  /** Sends batches until the queue is empty, no LogService is known, or a send fails. */
  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && this.#retryTimer === null) {
      const url = this.#providerUrl();
      if (url === null) return;
      const batch = this.#takeBatch();
      const done = await this.#deliver(url, batch);
      if (done < batch.length) return this.#retryLater(batch.slice(done));
      this.#failures = 0;
    }
  }

  #providerUrl(): string | null {
    try {
      return this.#client?.provider(this.#o.logService) ?? null;
    } catch {
      // None now: the 'change' listener (or attach) starts the next pass when one appears.
      return null;
    }
  }

  #takeBatch(): Queued[] {
    let count = 0;
    let bytes = 2;
    for (const item of this.#queue) {
      if (count === MAX_BATCH_ENTRIES || (count > 0 && bytes + item.bytes + 1 > MAX_BATCH_BYTES)) break;
      bytes += item.bytes + 1;
      count++;
    }
    return this.#queue.splice(0, count);
  }

  /** How many entries from the front of `batch` are done with (delivered, or refused and spilled). */
  async #deliver(url: string, batch: Queued[]): Promise<number> {
    if (this.#courseProviders.has(url)) return this.#deliverCourse(url, batch);
    const status = await this.#post(`${url}/v1/logs`, 'application/json', `[${batch.map((item) => item.json).join(',')}]`, this.#token());
    if (status === 404) {
      this.#courseProviders.add(url);
      return this.#deliverCourse(url, batch);
    }
    if (status >= 200 && status < 300) return batch.length;
    if (isRefusal(status)) {
      this.#spill(batch, `${this.#o.logService} at ${url} refused them with HTTP ${status}`);
      return batch.length;
    }
    return 0;
  }

  /** The course's log service takes one `[Service] - message` text per POST /log. */
  async #deliverCourse(url: string, batch: Queued[]): Promise<number> {
    for (const [index, { entry }] of batch.entries()) {
      if ((await this.#post(`${url}/log`, 'text/plain', courseLine(entry))) !== 200) return index;
    }
    return batch.length;
  }

  /** The explicit token, else the client's (its own option or ROSTER_TOKEN), else ROSTER_TOKEN. */
  #token(): string | null {
    const candidate = this.#o.token ?? this.#client?.options?.token ?? process.env.ROSTER_TOKEN?.trim() ?? null;
    return candidate && isToken(candidate) ? candidate : null;
  }

  /** The HTTP status, or 0 when no answer came. */
  async #post(url: string, contentType: string, body: string, token: string | null = null): Promise<number> {
    try {
      const signal = AbortSignal.timeout(this.#o.requestTimeoutMs);
      const headers: Record<string, string> = { 'content-type': contentType };
      if (token !== null) headers.authorization = `Bearer ${token}`;
      const response = await this.#o.fetch(url, { method: 'POST', headers, body, signal });
      // Read the answer so that the connection can be reused.
      await response.arrayBuffer().catch(() => undefined);
      return response.status;
    } catch {
      return 0;
    }
  }

  #retryLater(rest: Queued[]): void {
    this.#queue.unshift(...rest);
    this.#trim();
    this.#failures++;
    const delay = Math.min(this.#o.retryMaxMs, this.#o.retryInitialMs * 2 ** (this.#failures - 1));
    this.#retryTimer = this.#o.clock.setTimeout(() => {
      this.#retryTimer = null;
      this.#kick();
    }, withJitter(delay, RETRY_JITTER));
  }

  #clearRetry(): void {
    if (this.#retryTimer === null) return;
    this.#o.clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
  }

  #spill(items: readonly Queued[], reason: string): void {
    for (const { json } of items) this.#note(`log entry not delivered, ${reason}: ${json}`);
  }

  #note(text: string): void {
    try {
      this.#o.stderr.write(`roster: ${text}\n`);
    } catch {
      // Nowhere left to report to; the caller's code must go on.
    }
  }
}

/** pino's JSON line → our entry plus the fields pino added (err, child bindings, objects). */
function parsePinoLine(line: string, service: string): { entry: LogEntry; extras: Record<string, unknown> } {
  const { level, time, msg, ...extras } = JSON.parse(line) as Record<string, unknown>;
  const entry: LogEntry = {
    // A wall-clock stamp for an entry pino gave no time: it goes into a log file, not a timer.
    time: typeof time === 'string' ? time : new Date().toISOString(),
    service,
    level: LOG_LEVELS.includes(level as LogLevel) ? (level as LogLevel) : 'info',
    message: typeof msg === 'string' ? msg : '',
  };
  return { entry, extras };
}

/** The shipped message carries the extra fields too, within the log service's size limit. */
function withExtras(entry: LogEntry, extras: Record<string, unknown>): LogEntry {
  const suffix = Object.keys(extras).length > 0 ? JSON.stringify(extras) : '';
  const message = entry.message && suffix ? `${entry.message} ${suffix}` : entry.message || suffix;
  // The log service refuses control characters other than tab and line feed: escaped here, never lost.
  return { ...entry, message: truncateBytes(message.replace(REFUSED_BY_LOG_SERVICE, (char) => escapeControls(char)), LOG_LIMITS.messageBytes) };
}

/** What the log service refuses in a message (all controls but tab and line feed). */
const REFUSED_BY_LOG_SERVICE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g;

/** One line per entry however many newlines the message holds. */
function readableLine(entry: LogEntry, extras: Record<string, unknown>): string {
  const message = escapeControls(entry.message);
  const suffix = Object.keys(extras).length > 0 ? ` ${JSON.stringify(extras)}` : '';
  return `${entry.time} ${entry.level.toUpperCase().padEnd(5)} ${entry.service}: ${message}${suffix}\n`;
}

/** The entry as pino would have written it (numeric level, epoch time, `name`): tools that read our other logs read it too. */
function pinoLine(entry: LogEntry, extras: Record<string, unknown>): string {
  const level = (LOG_LEVELS.indexOf(entry.level) + 1) * 10;
  return `${JSON.stringify({ ...extras, level, time: Date.parse(entry.time), name: entry.service, msg: entry.message })}\n`;
}

/**
 * `[Service] - message\n`. The course's log service writes the body to its file as it comes, so
 * line breaks and other control characters are escaped: one entry stays one line, and no message
 * can forge a line of another service.
 */
export function courseLine(entry: Pick<LogEntry, 'service' | 'level' | 'message'>): string {
  const level = entry.level === 'info' ? '' : `${entry.level.toUpperCase()} `;
  return `[${escapeControls(entry.service)}] - ${level}${escapeControls(entry.message)}\n`;
}

const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** C0 and C1 controls, DEL and the Unicode line and paragraph separators, as \n, \r, \t or \uXXXX. */
export function escapeControls(text: string): string {
  return text.replace(/[\p{Cc}\u2028\u2029]/gu, (char) => ESCAPES[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function isToken(value: unknown): value is string {
  return typeof value === 'string' && /^[\x21-\x7e]{1,4096}$/.test(value);
}

function truncateBytes(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  // A character cut in half decodes as U+FFFD (3 bytes): leave room for it.
  const keep = maxBytes - Buffer.byteLength(TRUNCATED) - 3;
  return Buffer.from(text).subarray(0, keep).toString('utf8') + TRUNCATED;
}

/** A refusal that retrying cannot fix (timeouts and rate limits can be retried). */
function isRefusal(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}
