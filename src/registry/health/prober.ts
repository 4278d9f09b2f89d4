// The one way the health checker touches the network: GET a heartbeat URL. Kept behind a
// function type so that the checker can be tested with a fake and never imports undici.

import { Agent } from 'undici';
import { z } from 'zod';
import { SIGNATURE_HEADER } from '../../protocol/signature.js';
import { errorCode, exchange, ExchangeError, trustingCa } from '../../shared/exchange.js';
import type { OriginGate } from '../origin-gate.js';
import { func, resolveOptions, text, withMethods } from '../../shared/options.js';

/**
 * Resolves when `url` answered HTTP 200; rejects with a short reason. `signal` is the probe's
 * one deadline: the health checker aborts it, on its clock, when the probe's time is up.
 */
export type Prober = (url: string, signal: AbortSignal) => Promise<void>;

/** The `roster-signature` value for a probe of `url`, or null to probe unsigned. */
export type ProbeSigner = (url: string) => string | null;

/** The prober's options; collaborators (sign, gate) are kept as given. */
export const httpProberOptionsSchema = z.strictObject({
  /** Signs each probe over `GET <path?query>`; without it probes go unsigned. */
  sign: func<ProbeSigner>('a function (url) returning a signature or null').optional(),
  /** A CA (PEM) to trust for HTTPS heartbeat URLs, besides the public ones. */
  ca: text('a CA certificate (PEM text)').optional(),
  /** Bounds the probes in flight per origin, shared with the patches; the wait counts within the probe's deadline. */
  gate: withMethods<OriginGate>(['run'], 'an OriginGate').optional(),
});

export type HttpProberOptions = z.input<typeof httpProberOptionsSchema>;

export interface HttpProber {
  probe: Prober;
  close(): Promise<void>;
}

// Probes repeat every few seconds per instance, so idle sockets should outlive one interval.
const KEEP_ALIVE_MS = 10_000;
// A heartbeat answer is a status; a long body is drained up to this, then the probe fails.
const MAX_BODY_BYTES = 64 * 1024;

// Short reasons for the failures an operator sees most; anything else keeps its own message.
const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  UND_ERR_SOCKET: 'connection closed',
  UND_ERR_CLOSED: 'prober closed',
  UND_ERR_DESTROYED: 'prober closed',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
  UND_ERR_INVALID_ARG: 'invalid URL',
};

/** An HTTP prober over one keep-alive connection pool. */
export function createHttpProber(input: HttpProberOptions = {}): HttpProber {
  const options = resolveOptions(httpProberOptionsSchema, input, { owner: 'createHttpProber' });
  // A cap per origin: one listener may serve the heartbeats of many instances, and a burst of
  // probes must reuse sockets rather than open hundreds. undici's Agent follows no redirect
  // unless told to, so a 3xx answer fails the probe like any status but 200.
  const agent = new Agent({ keepAliveTimeout: KEEP_ALIVE_MS, connections: 32, connect: trustingCa(options.ca) });
  const { sign, gate } = options;
  let closing: Promise<void> | undefined;
  const probeNow: Prober = (url, signal) => probe(agent, url, signal, sign?.(url) ?? null);
  return {
    probe: gate ? (url, signal) => gate.run(url, signal, () => probeNow(url, signal)) : probeNow,
    close: () => (closing ??= agent.close()),
  };
}

async function probe(agent: Agent, url: string, signal: AbortSignal, signature: string | null): Promise<void> {
  let status: number;
  const headers = signature === null ? undefined : { [SIGNATURE_HEADER]: signature };
  try {
    status = await exchange(agent, { method: 'GET', url, headers, signal, maxBodyBytes: MAX_BODY_BYTES });
  } catch (err) {
    throw new Error(describeFailure(err), { cause: err });
  }
  if (status !== 200) throw new Error(`answered HTTP ${status}`);
}

function describeFailure(err: unknown): string {
  if (err instanceof ExchangeError && err.kind === 'aborted') return 'probe aborted';
  if (err instanceof ExchangeError && err.kind !== 'network') return err.message;
  const code = errorCode(err instanceof ExchangeError ? err.cause : err);
  if (code !== undefined && REASONS[code]) return REASONS[code];
  if (err instanceof TypeError) return 'invalid URL';
  return err instanceof Error ? err.message : String(err);
}
