// Follows the registry's GET /v1/watch (Server-Sent Events) for processes that cannot take
// inbound calls: CLIs, browsers, services behind NAT. Reconnects with backoff on the injected
// clock, resuming from the revision its owner last saw.
import { Agent, request } from 'undici';
import { RosterError, errorFromAnswer, registryError, registryUnreachable } from '../protocol/errors.js';
import { parseWatchEvent, type WatchChange, type WatchSnapshot } from '../protocol/watch.js';
import { sleep, withJitter, type Clock } from '../shared/clock.js';
import { trustingCa } from '../shared/exchange.js';

// The event types belong to the protocol; re-exported for the client's users.
export type { WatchChange, WatchSnapshot } from '../protocol/watch.js';

export interface WatchStreamHandlers {
  /** The whole (filtered) catalog: rebuild the view from it. */
  snapshot(snapshot: WatchSnapshot): void;
  change(change: WatchChange): void;
  /** The registry accepted the stream. */
  connected?(): void;
  /**
   * The stream failed or ended; the next attempt comes after `retryInMs`. A malformed event
   * ends the stream too, reported here as REGISTRY_ERROR naming the event and the bad field.
   */
  disconnected?(error: RosterError, retryInMs: number): void;
}

export interface WatchStreamInit {
  /** Base URL of the registry, asked at each connection (the owner may have failed over). */
  registryUrl: () => string;
  /** Only these services; all when left out. */
  services?: readonly string[];
  /** The revision to resume after, asked at each connection; undefined starts with a snapshot. */
  since: () => number | undefined;
  handlers: WatchStreamHandlers;
  clock: Clock;
  /** Limit for the registry to answer a connection. Default 5000. */
  connectTimeoutMs?: number;
  /** Silence after which the stream counts as dead: three missed keep-alives. Default 45000. */
  idleTimeoutMs?: number;
  /** Reconnect backoff: first delay, doubling up to maxMs, ±20 % jitter. */
  backoff?: { initialMs: number; maxMs: number };
  random?: () => number;
  /** Extra request headers: the client's `authorization`. */
  headers?: Readonly<Record<string, string>>;
  /** A CA (PEM) to trust besides the public ones, for an https:// registry. */
  ca?: string;
}

const DEFAULT_BACKOFF = { initialMs: 250, maxMs: 30_000 };
const BACKOFF_JITTER = 0.2;

export class WatchStream {
  readonly #init: WatchStreamInit;
  readonly #backoff: { initialMs: number; maxMs: number };
  #agent: Agent | null = null;
  #stop: AbortController | null = null;
  #loop: Promise<void> | null = null;
  #failures = 0;

  constructor(init: WatchStreamInit) {
    this.#init = init;
    this.#backoff = init.backoff ?? DEFAULT_BACKOFF;
  }

  get running(): boolean {
    return this.#stop !== null;
  }

  /** Connects, and keeps reconnecting until stop(). */
  start(): void {
    if (this.#stop) return;
    const stop = new AbortController();
    this.#stop = stop;
    this.#loop = this.#run(stop.signal);
  }

  /** Drops the connection and stops reconnecting; start() may follow. */
  async stop(): Promise<void> {
    this.#stop?.abort();
    this.#stop = null;
    await this.#loop;
    this.#loop = null;
  }

  /** stop(), and frees the sockets. Idempotent. */
  async close(): Promise<void> {
    await this.stop();
    const agent = this.#agent;
    this.#agent = null;
    await agent?.close();
  }

  async #run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const error = await this.#follow(signal);
      if (signal.aborted) return;
      const retryInMs = this.#nextDelay();
      this.#init.handlers.disconnected?.(error, retryInMs);
      await sleep(this.#init.clock, retryInMs, signal);
    }
  }

  /** One connection, read to its end; resolves with why it ended. */
  async #follow(signal: AbortSignal): Promise<RosterError> {
    const base = this.#init.registryUrl();
    try {
      const response = await request(this.#url(base), {
        method: 'GET',
        headers: { ...this.#init.headers, accept: 'text/event-stream' },
        dispatcher: this.#dispatcher(),
        signal,
        headersTimeout: this.#init.connectTimeoutMs ?? 5_000,
        bodyTimeout: this.#init.idleTimeoutMs ?? 45_000,
      });
      if (response.statusCode !== 200) return refusal(base, response.statusCode, await response.body.text());
      this.#init.handlers.connected?.();
      await this.#read(response.body);
      return registryUnreachable(`the registry at ${base} ended the watch stream`);
    } catch (error) {
      if (error instanceof RosterError) return error;
      return registryUnreachable(`lost the watch stream of the registry at ${base}: ${describe(error)}`, error);
    }
  }

  async #read(body: AsyncIterable<Buffer>): Promise<void> {
    const decoder = new TextDecoder();
    const parser = new SseParser((event) => this.#dispatch(event));
    for await (const chunk of body) parser.push(decoder.decode(chunk, { stream: true }));
  }

  #dispatch(event: SseEvent): void {
    // Throws on a malformed event: #follow reports it through disconnected() and reconnects.
    const parsed = parseWatchEvent(event.event, event.data);
    // Other event types are for newer clients: ignore them.
    if (parsed === null) return;
    // A good event arrived: the registry is back, so the next drop starts the backoff afresh.
    this.#failures = 0;
    if (parsed.event === 'snapshot') this.#init.handlers.snapshot(parsed.data);
    else this.#init.handlers.change(parsed.data);
  }

  #url(base: string): string {
    const query = new URLSearchParams();
    const since = this.#init.since();
    if (since !== undefined) query.set('since', String(since));
    if (this.#init.services) query.set('services', this.#init.services.join(','));
    const text = query.toString().replaceAll('%2C', ',');
    return `${base}/v1/watch${text ? `?${text}` : ''}`;
  }

  #nextDelay(): number {
    const { initialMs, maxMs } = this.#backoff;
    const delay = Math.min(maxMs, initialMs * 2 ** Math.min(this.#failures, 30));
    this.#failures += 1;
    return withJitter(delay, BACKOFF_JITTER, this.#init.random);
  }

  #dispatcher(): Agent {
    // Our own agent: close() frees its sockets, and the stream never waits behind other requests.
    this.#agent ??= new Agent({ connect: { timeout: this.#init.connectTimeoutMs ?? 5_000, ...trustingCa(this.#init.ca) } });
    return this.#agent;
  }
}

export interface SseEvent {
  event: string;
  data: string;
  id: string | undefined;
}

/** Longest line we hold while waiting for its end: a snapshot of a large catalog is one line. */
const MAX_LINE_CHARS = 64 * 1024 * 1024;

/** Server-Sent Events, as the HTML standard parses them (fields, comments, blank-line dispatch). */
export class SseParser {
  readonly #onEvent: (event: SseEvent) => void;
  #buffer = '';
  #event = '';
  #data: string[] = [];
  #id: string | undefined;

  constructor(onEvent: (event: SseEvent) => void) {
    this.#onEvent = onEvent;
  }

  push(text: string): void {
    // A '\r' at the very end may be the first half of '\r\n': keep it until the next chunk.
    const lines = (this.#buffer + text).split(/\r\n|\n|\r(?!$)/);
    this.#buffer = lines.pop() ?? '';
    if (this.#buffer.length > MAX_LINE_CHARS) throw registryError('the watch stream sent a line too long to hold');
    for (const line of lines) this.#line(line);
  }

  #line(line: string): void {
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') this.#event = value;
    else if (field === 'data') this.#data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.#id = value;
  }

  #dispatch(): void {
    const event: SseEvent = { event: this.#event || 'message', data: this.#data.join('\n'), id: this.#id };
    const hasData = this.#data.length > 0;
    this.#event = '';
    this.#data = [];
    if (hasData) this.#onEvent(event);
  }
}

/** The registry's own error when it sent one (400 for a bad service name), else its status. */
function refusal(base: string, status: number, text: string): RosterError {
  const hint = status === 404 ? ' (a registry without the watch stream?)' : '';
  return errorFromAnswer({ status, body: text, from: `the registry at ${base}`, request: 'GET /v1/watch', hint });
}

function describe(error: unknown): string {
  const err = error as { code?: string; message?: string; cause?: { code?: string } };
  if (err.code === 'UND_ERR_BODY_TIMEOUT') return 'no data, not even a keep-alive, for too long';
  return err.code ?? err.cause?.code ?? err.message ?? String(error);
}
