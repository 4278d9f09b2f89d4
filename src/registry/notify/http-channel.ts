// Delivers patches the way the course's registry does: `POST <ServiceUpdateURL>` with a JSON
// body. One keep-alive Agent serves every subscriber, so steady notifications reuse sockets.

import { Agent } from 'undici';
import { z } from 'zod';
import type { Patch } from '../../protocol/course.js';
import { SIGNATURE_HEADER } from '../../protocol/signature.js';
import { errorCode, exchange, ExchangeError, trustingCa } from '../../shared/exchange.js';
import type { NotificationChannel } from './channel.js';
import type { OriginGate } from '../origin-gate.js';
import { durationMs, func, resolveOptions, text, wholeNumber, withMethods } from '../../shared/options.js';

/** The `roster-signature` value for `body` sent to `target`, or null to send it unsigned. */
export type PatchSigner = (target: string, body: string) => string | null;

export const DEFAULT_HTTP_CHANNEL_OPTIONS = Object.freeze({
  /** Sockets per origin. The notifier keeps one send in flight per target, so a few suffice. */
  connections: 8,
  /** How long an idle socket is kept open; below Node's 5 s server default to avoid races. */
  keepAliveTimeoutMs: 4_000,
});

/** The channel's options with their defaults; collaborators (sign, gate) are kept as given. */
export const httpChannelOptionsSchema = z.strictObject({
  connections: wholeNumber(1).default(DEFAULT_HTTP_CHANNEL_OPTIONS.connections),
  keepAliveTimeoutMs: durationMs(1).default(DEFAULT_HTTP_CHANNEL_OPTIONS.keepAliveTimeoutMs),
  /** Signs each patch over its exact body; without it patches go unsigned. */
  sign: func<PatchSigner>('a function (target, body) returning a signature or null').optional(),
  /** A CA (PEM) to trust for HTTPS update URLs, besides the public ones. */
  ca: text('a CA certificate (PEM text)').optional(),
  /** Bounds the sends in flight per origin, shared with the prober; without it only `connections` does. */
  gate: withMethods<OriginGate>(['run'], 'an OriginGate').optional(),
});

export type HttpChannelOptions = z.output<typeof httpChannelOptionsSchema>;
export type HttpChannelOptionsInput = z.input<typeof httpChannelOptionsSchema>;

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
  readonly #sign: PatchSigner | undefined;
  readonly #gate: OriginGate | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: HttpChannelOptionsInput = {}) {
    const { connections, keepAliveTimeoutMs, sign, ca, gate } = resolveOptions(httpChannelOptionsSchema, options, { owner: 'HttpChannel' });
    // undici's Agent follows no redirect unless told to: a 3xx is a failed delivery.
    this.#agent = new Agent({ connections, keepAliveTimeout: keepAliveTimeoutMs, connect: trustingCa(ca) });
    this.#sign = sign;
    this.#gate = gate;
  }

  async send(target: string, patch: Patch, signal: AbortSignal): Promise<void> {
    const status = await this.#post(target, patch, signal);
    if (status < 200 || status > 299) throw new Error(`POST ${target} answered HTTP ${status}`);
  }

  close(): Promise<void> {
    this.#closing ??= this.#agent.close();
    return this.#closing;
  }

  #headers(target: string, body: string): Record<string, string> {
    const signature = this.#sign?.(target, body);
    return signature ? { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature } : JSON_HEADERS;
  }

  // The notifier bounds each send through `signal`, the wait for a slot at the gate included; the
  // answer's body is read and dropped, so that the socket goes back to the keep-alive pool.
  async #post(target: string, patch: Patch, signal: AbortSignal): Promise<number> {
    try {
      const body = patchBody(patch);
      const post = (): Promise<number> => exchange(this.#agent, { method: 'POST', url: target, headers: this.#headers(target, body), body, signal, maxBodyBytes: MAX_ANSWER_BYTES });
      return await (this.#gate ? this.#gate.run(target, signal, post) : post());
    } catch (error) {
      throw new Error(`POST ${target} ${describeFailure(error, signal)}`, { cause: error });
    }
  }
}

const JSON_HEADERS = Object.freeze({ 'content-type': 'application/json' });
// A subscriber answers a patch with a status; anything longer is not worth reading.
const MAX_ANSWER_BYTES = 64 * 1024;

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
  if (error instanceof ExchangeError && error.kind !== 'network') return `failed: ${error.message}`;
  const code = errorCode(error instanceof ExchangeError ? error.cause : error);
  const known = code === undefined ? undefined : NETWORK_ERRORS[code];
  return `failed: ${known ?? (error instanceof Error ? error.message : String(error))}`;
}

// The notifier aborts with a TimeoutError whose message says how long it waited.
function describeAbort(reason: unknown): string {
  if (reason instanceof Error && reason.name === 'TimeoutError') return reason.message;
  return reason instanceof Error ? `aborted (${reason.message})` : 'aborted';
}
