// Session liveness, the client's side: holds GET /v1/instances/{id}/session open and answers each
// of the registry's pings with POST /v1/instances/{id}/session/ping. While the stream is open and
// answered the registry counts the instance alive; a process that dies closes it at once. A
// dropped stream is reopened at once, then with backoff; an instance the registry no longer
// knows is registered again first.
import { Agent, request, type Dispatcher } from 'undici';
import { RosterError, errorFromAnswer, registryUnreachable } from '../protocol/errors.js';
import { sleep, withJitter, type Clock } from '../shared/clock.js';
import { trustingCa } from '../shared/exchange.js';

export interface SessionKeeperInit {
  /** Base URL of the registry, asked at each connection (the owner may have failed over). */
  registryUrl: () => string;
  /** The instance's id, asked at each connection. */
  instanceId: () => string;
  clock: Clock;
  /** The registry does not know the instance (it restarted empty, or expired it): register again. */
  reregister: () => Promise<void>;
  /** The stream dropped or was refused; the next attempt comes after `retryInMs`. */
  disconnected?: (error: RosterError, retryInMs: number) => void;
  connected?: () => void;
  /** Extra request headers: the client's `authorization`. */
  headers?: Readonly<Record<string, string>>;
  ca?: string;
  /** Limit for the registry to answer a connection, and a ping. Default 5000. */
  requestTimeoutMs?: number;
  /** Reconnect backoff after the first, immediate, retry: first delay, doubling up to maxMs, ±20 %. */
  backoff?: { initialMs: number; maxMs: number };
  random?: () => number;
}

const DEFAULT_BACKOFF = { initialMs: 50, maxMs: 2_000 };
/** Without a ping for this many of the registry's intervals, the stream counts as dead. */
const MISSED_PINGS = 5;

interface OpenMessage {
  type: 'open';
  token: number;
  pingMs: number;
}

interface PingMessage {
  type: 'ping';
  /** false: no answer wanted (absent: answer). */
  answer?: boolean;
}

export class SessionKeeper {
  readonly #init: SessionKeeperInit;
  readonly #backoff: { initialMs: number; maxMs: number };
  #agent: Agent | null = null;
  #stop: AbortController | null = null;
  #loop: Promise<void> | null = null;
  #failures = 0;

  constructor(init: SessionKeeperInit) {
    this.#init = init;
    this.#backoff = init.backoff ?? DEFAULT_BACKOFF;
  }

  get running(): boolean {
    return this.#stop !== null;
  }

  /** Opens the session, and keeps reopening it until stop(). */
  start(): void {
    if (this.#stop) return;
    const stop = new AbortController();
    this.#stop = stop;
    this.#loop = this.#run(stop.signal);
  }

  /** Closes the session (the registry then counts the instance gone after its grace) and stops. */
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
      const error = await this.#hold(signal);
      if (signal.aborted) return;
      if (error.code === 'INSTANCE_NOT_FOUND') {
        await this.#reregister(signal);
        continue;
      }
      const retryInMs = this.#nextDelay();
      this.#init.disconnected?.(error, retryInMs);
      if (retryInMs > 0) await sleep(this.#init.clock, retryInMs, signal);
    }
  }

  async #reregister(signal: AbortSignal): Promise<void> {
    try {
      await this.#init.reregister();
    } catch (error) {
      const retryInMs = Math.max(this.#backoff.initialMs, this.#nextDelay());
      this.#init.disconnected?.(error instanceof RosterError ? error : registryUnreachable(String(error), error), retryInMs);
      await sleep(this.#init.clock, retryInMs, signal);
    }
  }

  /** One session, held to its end; resolves with why it ended. */
  async #hold(signal: AbortSignal): Promise<RosterError> {
    const base = this.#init.registryUrl();
    const path = `/v1/instances/${encodeURIComponent(this.#init.instanceId())}/session`;
    const stream = new AbortController();
    const stopStream = (): void => stream.abort();
    signal.addEventListener('abort', stopStream, { once: true });
    try {
      const response = await request(base + path, {
        method: 'GET',
        headers: { ...this.#init.headers, accept: 'application/x-ndjson' },
        dispatcher: this.#dispatcher(),
        signal: stream.signal,
        headersTimeout: this.#init.requestTimeoutMs ?? 5_000,
        bodyTimeout: 0,
      });
      if (response.statusCode !== 200) return refusal(base, response.statusCode, await response.body.text());
      await this.#follow(base, path, response.body, stream);
      return registryUnreachable(`the registry at ${base} ended the session`);
    } catch (error) {
      if (error instanceof RosterError) return error;
      return registryUnreachable(`lost the session with the registry at ${base}: ${describe(error)}`, error);
    } finally {
      signal.removeEventListener('abort', stopStream);
      stream.abort();
    }
  }

  /** Reads the stream's lines, answering each ping; a silent stream is given up after MISSED_PINGS. */
  async #follow(base: string, path: string, body: Dispatcher.ResponseData['body'], stream: AbortController): Promise<void> {
    let token: number | undefined;
    let buffered = '';
    let silence = this.#init.clock.setTimeout(() => stream.abort(), this.#init.requestTimeoutMs ?? 5_000);
    const heard = (pingMs: number): void => {
      this.#init.clock.clearTimeout(silence);
      silence = this.#init.clock.setTimeout(() => stream.abort(), pingMs * MISSED_PINGS);
    };
    let pingMs = 1000;
    try {
      for await (const chunk of body) {
        buffered += (chunk as Buffer).toString('utf8');
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const message = parseLine(buffered.slice(0, newline));
          buffered = buffered.slice(newline + 1);
          if (message?.type === 'open') {
            ({ token, pingMs } = message as OpenMessage);
            this.#failures = 0;
            this.#init.connected?.();
          } else if (message?.type === 'ping' && (message as PingMessage).answer !== false) {
            // Pings with `answer: false` only keep the stream busy: the registry asks for as
            // few answers as its stall limit allows.
            void this.#answer(base, path, token, stream);
          }
          heard(pingMs);
        }
      }
    } finally {
      this.#init.clock.clearTimeout(silence);
    }
  }

  /** Answers a ping; a registry that no longer knows the instance ends the stream (and we register again). */
  async #answer(base: string, path: string, token: number | undefined, stream: AbortController): Promise<void> {
    try {
      const query = token === undefined ? '' : `?token=${token}`;
      const response = await request(`${base}${path}/ping${query}`, {
        method: 'POST',
        headers: { ...this.#init.headers },
        dispatcher: this.#dispatcher(),
        signal: stream.signal,
        headersTimeout: this.#init.requestTimeoutMs ?? 5_000,
        bodyTimeout: this.#init.requestTimeoutMs ?? 5_000,
      });
      const text = await response.body.text();
      if (response.statusCode === 404 || (response.statusCode === 200 && text.includes('"connected":false'))) stream.abort();
    } catch {
      // A lost answer is retried by the next ping; a dead registry ends the stream itself.
    }
  }

  // The first retry is immediate (a registry restart or a proxy hiccup); then backoff.
  #nextDelay(): number {
    const failures = this.#failures++;
    if (failures === 0) return 0;
    const { initialMs, maxMs } = this.#backoff;
    return withJitter(Math.min(maxMs, initialMs * 2 ** (failures - 1)), 0.2, this.#init.random);
  }

  #dispatcher(): Agent {
    this.#agent ??= new Agent({ connect: trustingCa(this.#init.ca), keepAliveTimeout: 4_000 });
    return this.#agent;
  }
}

function parseLine(line: string): { type?: unknown } | null {
  try {
    const value = JSON.parse(line) as unknown;
    return typeof value === 'object' && value !== null ? (value as { type?: unknown }) : null;
  } catch {
    return null;
  }
}

function refusal(base: string, status: number, body: string): RosterError {
  return errorFromAnswer({ status, body, from: `registry at ${base}` });
}

function describe(error: unknown): string {
  const err = error as { code?: string; message?: string };
  return err.code ?? err.message ?? String(error);
}
