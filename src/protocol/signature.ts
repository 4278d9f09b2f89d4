// Signatures on what the registry sends an instance: patches (POST to its update URL) and
// heartbeat probes (GET of its heartbeat URL). The registry hands each instance a secret key of
// its own in the registration answer; it signs with it, and the instance checks with it, so no
// shared secret has to be distributed.
//
//   Roster-Signature: t=<unix ms>,v1=<hex HMAC-SHA256(key, "<t>.<payload>")>
//
// The payload is a patch's exact body, or "GET <path>" for a probe. The timestamp bounds how
// long a captured request can be replayed; the receiver also refuses a signature it has seen.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'roster-signature';

/** How far a signature's timestamp may be from the receiver's clock. */
export const SIGNATURE_TOLERANCE_MS = 5 * 60_000;

export type SignatureCheck = 'valid' | 'missing' | 'malformed' | 'stale' | 'bad';

/** A new random signing key (32 bytes, base64url). */
export function newSigningKey(): string {
  return randomBytes(32).toString('base64url');
}

/** The header value that signs `payload` at `now` (unix ms). */
export function signPayload(key: string, payload: string, now: number): string {
  return `t=${now},v1=${hmac(key, now, payload)}`;
}

/** The payload a heartbeat probe of `url` signs: its method and path with query. */
export function probePayload(pathWithQuery: string): string {
  return `GET ${pathWithQuery}`;
}

/** Checks a header value against `payload`; the answer says what is wrong, for the log and the 401. */
export function checkSignature(key: string, header: string | undefined, payload: string, now: number, toleranceMs = SIGNATURE_TOLERANCE_MS): SignatureCheck {
  if (!header) return 'missing';
  const match = /^t=(\d{1,16}),v1=([0-9a-f]{64})$/.exec(header.trim());
  if (!match) return 'malformed';
  const at = Number(match[1]);
  if (Math.abs(now - at) > toleranceMs) return 'stale';
  const expected = Buffer.from(hmac(key, at, payload), 'hex');
  const given = Buffer.from(match[2] as string, 'hex');
  return timingSafeEqual(expected, given) ? 'valid' : 'bad';
}

/** What a refused signature check means, in words for a 401 body. */
export function describeSignatureCheck(check: Exclude<SignatureCheck, 'valid'>): string {
  switch (check) {
    case 'missing':
      return `the request carries no ${SIGNATURE_HEADER} header, and this instance's registry signs everything it sends`;
    case 'malformed':
      return `the ${SIGNATURE_HEADER} header is not of the form t=<ms>,v1=<hex>`;
    case 'stale':
      return `the ${SIGNATURE_HEADER} timestamp is more than ${SIGNATURE_TOLERANCE_MS / 60_000} minutes from this instance's clock`;
    case 'bad':
      return `the ${SIGNATURE_HEADER} does not match: the request was not signed by this instance's registry, or was altered`;
  }
}

function hmac(key: string, at: number, payload: string): string {
  return createHmac('sha256', key).update(`${at}.`).update(payload).digest('hex');
}
