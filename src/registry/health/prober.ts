// The one way the health checker touches the network: GET a heartbeat URL. Kept behind a
// function type so that the checker can be tested with a fake and never imports undici.

import { Agent } from 'undici';
import { errorCode, exchange, ExchangeError } from '../../shared/exchange.js';

/** Resolves when `url` answered HTTP 200 within `timeoutMs`; rejects with a short reason. */
export type Prober = (url: string, timeoutMs: number, signal: AbortSignal) => Promise<void>;

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
export function createHttpProber(): HttpProber {
  // A cap per origin: one listener may serve the heartbeats of many instances, and a burst of
  // probes must reuse sockets rather than open hundreds.
  const agent = new Agent({ keepAliveTimeout: KEEP_ALIVE_MS, connections: 32 });
  let closing: Promise<void> | undefined;
  return {
    probe: (url, timeoutMs, signal) => probe(agent, url, timeoutMs, signal),
    close: () => (closing ??= agent.close()),
  };
}

async function probe(agent: Agent, url: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
  let status: number;
  try {
    status = await exchange(agent, { method: 'GET', url, timeoutMs, signal, maxBodyBytes: MAX_BODY_BYTES });
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
