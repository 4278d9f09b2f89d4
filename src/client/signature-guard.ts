// Checks what claims to come from the registry: patches and heartbeat probes carry a
// roster-signature made with this instance's own signing key. A patch's signature is good once:
// those seen within the tolerance window are remembered, so that a captured patch cannot be
// played again.
import { SIGNATURE_TOLERANCE_MS, checkSignature, describeSignatureCheck, type SignatureCheck } from '../protocol/index.js';
import type { Clock } from '../shared/clock.js';

/** Signatures remembered at most; past it the oldest go, and nothing older than them is taken. */
export const REPLAY_MEMORY = 10_000;

export type GuardCheck = SignatureCheck | 'replayed';

export class SignatureGuard {
  readonly #clock: Clock;
  readonly #toleranceMs: number;
  readonly #memory: number;
  #key: string | null = null;
  /** Signature → its timestamp, in the order they arrived. */
  readonly #seen = new Map<string, number>();
  /** Signatures at or before this timestamp may have been forgotten: refused as replays. */
  #floor = -Infinity;

  constructor(clock: Clock, options: { toleranceMs?: number; memory?: number } = {}) {
    this.#clock = clock;
    this.#toleranceMs = options.toleranceMs ?? SIGNATURE_TOLERANCE_MS;
    this.#memory = options.memory ?? REPLAY_MEMORY;
  }

  /** Whether a key is held, so that everything must be signed. */
  get active(): boolean {
    return this.#key !== null;
  }

  /** The key of the latest registration answer; null (course, an older registry) checks nothing. */
  setKey(key: string | null): void {
    if (key === this.#key) return;
    this.#key = key;
    this.#seen.clear();
    this.#floor = -Infinity;
  }

  /** A patch: signed over its exact body, and never seen before. */
  checkPatch(header: string | undefined, body: string): GuardCheck {
    if (this.#key === null) return 'valid';
    const now = this.#clock.now();
    const check = checkSignature(this.#key, header, body, now, this.#toleranceMs);
    if (check !== 'valid') return check;
    return this.#remember(header as string, now) ? 'valid' : 'replayed';
  }

  /** A heartbeat probe: signed over "GET <path?query>". Probes carry no news, so a replay is harmless. */
  checkProbe(header: string | undefined, payload: string): GuardCheck {
    if (this.#key === null) return 'valid';
    return checkSignature(this.#key, header, payload, this.#clock.now(), this.#toleranceMs);
  }

  /** Records a valid signature; false when it was seen (or may have been, and forgotten). */
  #remember(header: string, now: number): boolean {
    const signature = header.trim();
    const at = Number(/^t=(\d+)/.exec(signature)?.[1]);
    if (this.#seen.has(signature) || at <= this.#floor) return false;
    this.#forget(now);
    this.#seen.set(signature, at);
    return true;
  }

  /** Drops signatures too old to pass the time check anyway, then the oldest past the bound. */
  #forget(now: number): void {
    for (const [signature, at] of this.#seen) {
      const expired = at < now - this.#toleranceMs;
      if (!expired && this.#seen.size < this.#memory) return;
      this.#seen.delete(signature);
      if (!expired) this.#floor = Math.max(this.#floor, at);
    }
  }
}

/** What a refused check means, in words for the 401 body and the log. */
export function describeGuardCheck(check: Exclude<GuardCheck, 'valid'>): string {
  if (check === 'replayed') return 'this signature was already used: a patch is accepted once, and this one is a replay';
  return describeSignatureCheck(check);
}
