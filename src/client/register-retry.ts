// Registering when the registry is not there yet: attempt after attempt, each wait longer than the
// last up to a cap, jittered, on the injected clock. Only trouble that waiting can end is retried;
// a refused credential or an invalid registration is the caller's to fix, and fails at once.
import { RosterError, type ErrorCode } from '../protocol/errors.js';
import { sleep, withJitter, type Clock } from '../shared/clock.js';

/** How long to wait between attempts: `initialDelayMs`, doubling after each failure, at most `maxDelayMs`. */
export interface RetryPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_REGISTER_RETRY: RetryPolicy = Object.freeze({ initialDelayMs: 500, maxDelayMs: 30_000 });

/** Many services started together (after a power cut, by `roster up`) must not knock in step. */
const JITTER = 0.2;

/** The registry is down, starting, electing a leader or busy: it may take us in a moment. */
const TRANSIENT: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['REGISTRY_UNREACHABLE', 'REGISTRY_STOPPING', 'NOT_LEADER', 'NO_LEADER', 'STORE_CLOSED', 'ETCD_UNREACHABLE', 'RATE_LIMITED']);

/** A certificate that is not trusted, or does not name the host, stays so however long we wait. */
const CERTIFICATE_ERROR = /^(ERR_TLS_CERT_ALTNAME_INVALID|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_|CERT_)/;

export function isTransient(error: unknown): error is RosterError {
  return error instanceof RosterError && TRANSIENT.has(error.code) && !untrustedEverywhere(error);
}

/** Every registry URL failed on its certificate (the transport errors are the cause, see http.ts). */
function untrustedEverywhere(error: RosterError): boolean {
  const cause = error.cause;
  if (!(cause instanceof AggregateError) || cause.errors.length === 0) return false;
  return cause.errors.every((failure) => CERTIFICATE_ERROR.test(transportCode(failure)));
}

function transportCode(error: unknown): string {
  const err = error as { code?: unknown; cause?: { code?: unknown } } | null;
  const code = err?.code ?? err?.cause?.code;
  return typeof code === 'string' ? code : '';
}

/** The wait before attempt `attempt + 1`, after `attempt` failures (1 or more). */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const doubled = policy.initialDelayMs * 2 ** Math.min(attempt - 1, 30);
  return Math.min(policy.maxDelayMs, withJitter(Math.min(doubled, policy.maxDelayMs), JITTER, random));
}

export interface Waiting {
  /** The failure that makes us wait. */
  error: RosterError;
  /** Attempts made so far. */
  attempt: number;
  retryInMs: number;
}

export interface KeepTryingOptions {
  clock: Clock;
  /** Null: one attempt only (fail fast). */
  policy: RetryPolicy | null;
  /** Aborted: no further attempt; the one under way still finishes. */
  signal: AbortSignal;
  /** Told before each wait. */
  onWait(waiting: Waiting): void;
  /** Thrown when the signal stops the attempts. */
  stopped(): Error;
}

/** Runs `attempt` until it succeeds, it fails with something waiting cannot fix, or the signal aborts. */
export async function keepTrying<T>(attempt: () => Promise<T>, options: KeepTryingOptions): Promise<T> {
  const { clock, policy, signal } = options;
  for (let attempts = 1; ; attempts++) {
    if (signal.aborted) throw options.stopped();
    try {
      return await attempt();
    } catch (error) {
      if (policy === null || !isTransient(error)) throw error;
      if (signal.aborted) throw options.stopped();
      const retryInMs = retryDelay(policy, attempts);
      options.onWait({ error, attempt: attempts, retryInMs });
      await sleep(clock, retryInMs, signal);
    }
  }
}
