// Delivers patches the way the course's registry does: `POST <ServiceUpdateURL>` with a JSON
// body. One keep-alive Agent serves every subscriber, so steady notifications reuse sockets.

import { Agent, request } from 'undici';
import type { Patch } from '../../protocol/course.js';
import type { NotificationChannel } from './channel.js';

export interface HttpChannelOptions {
  /** Sockets per origin. The notifier keeps one send in flight per target, so a few suffice. */
  connections: number;
  /** How long an idle socket is kept open; below Node's 5 s server default to avoid races. */
  keepAliveTimeoutMs: number;
}

export const DEFAULT_HTTP_CHANNEL_OPTIONS: Readonly<HttpChannelOptions> = Object.freeze({
  connections: 8,
  keepAliveTimeoutMs: 4_000,
});

// Node error codes worth a plain-words message; anything else keeps its own message.
const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EHOSTUNREACH: 'host unreachable',
  UND_ERR_SOCKET: 'connection closed by the server',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
  UND_ERR_HEADERS_TIMEOUT: 'timed out waiting for the answer',
};

export class HttpChannel implements NotificationChannel {
  readonly #agent: Agent;
  #closing: Promise<void> | undefined;

  constructor(options: Partial<HttpChannelOptions> = {}) {
    const { connections, keepAliveTimeoutMs } = { ...DEFAULT_HTTP_CHANNEL_OPTIONS, ...options };
    this.#agent = new Agent({ connections, keepAliveTimeout: keepAliveTimeoutMs });
  }

  async send(target: string, patch: Patch, signal: AbortSignal): Promise<void> {
    const status = await this.#post(target, patch, signal);
    if (status < 200 || status > 299) throw new Error(`POST ${target} answered HTTP ${status}`);
  }

  close(): Promise<void> {
    this.#closing ??= this.#agent.close();
    return this.#closing;
  }

  async #post(target: string, patch: Patch, signal: AbortSignal): Promise<number> {
    try {
      const res = await request(target, {
        dispatcher: this.#agent,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: patchBody(patch),
        signal,
      });
      // An unread body would hold the socket and keep it out of the keep-alive pool.
      await res.body.dump();
      return res.statusCode;
    } catch (error) {
      throw new Error(`POST ${target} ${describeFailure(error, signal)}`, { cause: error });
    }
  }
}

/** The course's key order, with Roster's keys last; `undefined` keys are left out. */
export function patchBody(patch: Patch): string {
  const { Added, Removed, Revision, PrevRevision } = patch;
  const revisions = JSON.stringify({ Revision, PrevRevision }).slice(1, -1);
  return revisions ? `{${listsJson(Added, Removed)},${revisions}}` : `{${listsJson(Added, Removed)}}`;
}

/**
 * One change sends the same Added and Removed lists (the same arrays) to every dependent; only
 * PrevRevision differs. Serialize the lists once per change, not once per dependent.
 */
const listsCache = new WeakMap<Patch['Added'], { removed: Patch['Removed']; json: string }>();

function listsJson(added: Patch['Added'], removed: Patch['Removed']): string {
  const cached = listsCache.get(added);
  if (cached?.removed === removed) return cached.json;
  const json = JSON.stringify({ Added: added, Removed: removed }).slice(1, -1);
  listsCache.set(added, { removed, json });
  return json;
}

function describeFailure(error: unknown, signal: AbortSignal): string {
  if (signal.aborted) return describeAbort(signal.reason);
  const code = errorCode(error);
  const known = code === undefined ? undefined : NETWORK_ERRORS[code];
  return `failed: ${known ?? (error instanceof Error ? error.message : String(error))}`;
}

// The notifier aborts with a TimeoutError whose message says how long it waited.
function describeAbort(reason: unknown): string {
  if (reason instanceof Error && reason.name === 'TimeoutError') return reason.message;
  return reason instanceof Error ? `aborted (${reason.message})` : 'aborted';
}

// With happy eyeballs, Node reports a refused connection as an AggregateError of attempts.
function errorCode(error: unknown): string | undefined {
  const { code, errors } = (error ?? {}) as { code?: unknown; errors?: unknown[] };
  if (typeof code === 'string') return code;
  return Array.isArray(errors) ? errorCode(errors[0]) : undefined;
}
