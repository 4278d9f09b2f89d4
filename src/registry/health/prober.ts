// The one way the health checker touches the network: GET a heartbeat URL. Kept behind a
// function type so that the checker can be tested with a fake and never imports undici.

import { Agent, request } from 'undici';

/** Resolves when `url` answered HTTP 200 within `timeoutMs`; rejects with a short reason. */
export type Prober = (url: string, timeoutMs: number, signal: AbortSignal) => Promise<void>;

export interface HttpProber {
  probe: Prober;
  close(): Promise<void>;
}

// Probes repeat every few seconds per instance, so idle sockets should outlive one interval.
const KEEP_ALIVE_MS = 10_000;

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
  const deadline = startDeadline(timeoutMs, signal);
  try {
    await getStatus200(agent, url, timeoutMs, deadline.signal);
  } catch (err) {
    throw new Error(describeFailure(err, deadline.timedOut(), timeoutMs), { cause: err });
  } finally {
    deadline.stop();
  }
}

async function getStatus200(agent: Agent, url: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const options = { dispatcher: agent, method: 'GET' as const, signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs };
  const { statusCode, body } = await request(url, options);
  // Always drain (or discard) the body so that the socket goes back to the pool.
  const dumpError = await body.dump({ limit: 64 * 1024, signal }).then(() => null, (err: unknown) => err);
  if (statusCode !== 200) throw new ProbeFailure(`answered HTTP ${statusCode}`);
  if (dumpError !== null) throw dumpError;
}

/** One timer covering connect, headers and body; aborts the request when it fires. */
function startDeadline(timeoutMs: number, outer: AbortSignal) {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new ProbeFailure(`timed out after ${timeoutMs} ms`));
  }, timeoutMs);
  timer.unref();
  const onAbort = () => controller.abort(new ProbeFailure('probe aborted'));
  if (outer.aborted) onAbort();
  else outer.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    stop(): void {
      clearTimeout(timer);
      outer.removeEventListener('abort', onAbort);
    },
  };
}

class ProbeFailure extends Error {}

function describeFailure(err: unknown, timedOut: boolean, timeoutMs: number): string {
  if (timedOut) return `timed out after ${timeoutMs} ms`;
  if (err instanceof ProbeFailure) return err.message;
  const code = errorCode(err);
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return `timed out after ${timeoutMs} ms`;
  if (code !== undefined && REASONS[code]) return REASONS[code];
  return err instanceof Error ? err.message : String(err);
}

/** The error's code, looking inside the AggregateError that Node raises when every address fails. */
function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  if (err instanceof AggregateError) return err.errors.map(errorCode).find((inner) => inner !== undefined);
  return undefined;
}
