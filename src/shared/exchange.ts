// One HTTP request of which only the status matters: a health probe, a patch callback. Sent
// with undici's dispatch() and a handler that counts the answer's bytes and drops them: no
// Request object, no Readable body, no AbortController of its own. For a small answer this
// costs about half the CPU of undici's request(), which matters at thousands of probes a second.

import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import type { Dispatcher } from 'undici';
import { unreadableFile } from '../protocol/errors.js';

export interface ExchangeRequest {
  method: 'GET' | 'POST';
  /** Absolute http(s) URL. */
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /**
   * The exchange's one deadline: the caller aborts it on its own clock (connect, send, headers
   * and body included). Without it nothing bounds the exchange.
   */
  signal?: AbortSignal;
  /** An answer longer than this fails the exchange (a heartbeat should be short). */
  maxBodyBytes?: number;
}

export type ExchangeFailure = 'aborted' | 'too-large' | 'network';

/** Why an exchange failed; `cause` holds undici's or the system's own error for `network`. */
export class ExchangeError extends Error {
  constructor(
    readonly kind: ExchangeFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ExchangeError';
  }
}

/** Resolves with the status code once the whole answer has arrived; rejects with an ExchangeError. */
export function exchange(dispatcher: Dispatcher, request: ExchangeRequest): Promise<number> {
  return new Promise((resolve, reject) => {
    const { origin, path } = splitUrl(request.url);
    const maxBodyBytes = request.maxBodyBytes ?? Infinity;
    const { signal } = request;
    let controller: Dispatcher.DispatchController | undefined;
    let failure: ExchangeError | undefined;
    let statusCode = 0;
    let bodyBytes = 0;
    let settled = false;
    const onAbort = (): void => fail(new ExchangeError('aborted', 'aborted', { cause: signal?.reason }));

    function finish(): void {
      settled = true;
      signal?.removeEventListener('abort', onAbort);
    }
    // Settles now; the request itself stops as soon as undici hands over its controller (a
    // request still waiting for a free socket has none yet).
    function fail(error: ExchangeError): void {
      if (settled) return;
      failure = error;
      finish();
      controller?.abort(error);
      reject(error);
    }

    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const options: Dispatcher.DispatchOptions = {
      origin,
      path,
      method: request.method,
      headers: request.headers ?? null,
      body: request.body ?? null,
      // The caller's signal is the one deadline; undici runs its own timeouts on a coarse
      // clock of its own, which a test cannot move, so they are off.
      headersTimeout: 0,
      bodyTimeout: 0,
    };
    try {
      dispatcher.dispatch(options, handlerFor());
    } catch (error) {
      fail(new ExchangeError('network', error instanceof Error ? error.message : String(error), { cause: error }));
    }

    function handlerFor(): Dispatcher.DispatchHandler {
      return {
        onRequestStart(given) {
          controller = given;
          if (failure) given.abort(failure);
        },
        onResponseStart(_controller, status) {
          statusCode = status;
        },
        onResponseData(_controller, chunk) {
          bodyBytes += chunk.length;
          if (bodyBytes > maxBodyBytes) fail(new ExchangeError('too-large', `answer longer than ${maxBodyBytes} bytes`));
        },
        onResponseEnd() {
          if (settled) return;
          finish();
          resolve(statusCode);
        },
        onResponseError(_controller, error) {
          fail(new ExchangeError('network', error.message, { cause: error }));
        },
      };
    }
  });
}

// `new URL()` for everything but the split: undici wants the origin and the path apart.
function splitUrl(url: string): { origin: string; path: string } {
  const parsed = new URL(url);
  return { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
}

/**
 * The `connect` options of an undici Agent that trusts `ca` (PEM) besides the usual public CAs:
 * a private CA is added to the trust, it does not replace it.
 */
export function trustingCa(ca: string | undefined): { ca: string[] } | undefined {
  return ca === undefined ? undefined : { ca: [...rootCertificates, ca] };
}

/** Reads a PEM CA bundle named by an option; a missing or unreadable file says which option. */
export function readCaFile(path: string | undefined, option = 'tls.ca'): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw unreadableFile(option, path, error, 'a CA file');
  }
}

/** The system's or undici's error code, also inside the AggregateError of a failed happy-eyeballs connect. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, errors } = error as { code?: unknown; errors?: unknown };
  if (typeof code === 'string') return code;
  if (Array.isArray(errors)) return errors.map(errorCode).find((inner) => inner !== undefined);
  return undefined;
}
