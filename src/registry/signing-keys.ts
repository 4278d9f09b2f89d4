// Which key signs what the registry sends to a URL. Every patch and every probe asks, thousands
// of times a second, so the answer is kept ready per URL instead of searched for in the catalog.
// Several instances may share a URL (one process serving two services); the one registered last
// signs, and when it goes the next remaining one takes over. Instances without a key (course
// instances) are not kept: a URL shared with a v1 instance is still signed.
import { randomFillSync } from 'node:crypto';
import { probePayload, signPayload } from '../protocol/signature.js';

// Every v1 registration of a new URL makes a key. One randomBytes(32) call each cost a tenth
// of the registry's CPU at thousands of registrations a second; the random bytes are drawn in
// blocks instead (as crypto.randomUUID does), each byte used for one key only.
const KEY_BYTES = 32;
const keyPool = Buffer.alloc(KEY_BYTES * 128);
let keyPoolOffset = keyPool.length;

/** A new random signing key: 32 bytes from the system's CSPRNG, base64url (as newSigningKey()). */
export function nextSigningKey(): string {
  if (keyPoolOffset + KEY_BYTES > keyPool.length) {
    randomFillSync(keyPool);
    keyPoolOffset = 0;
  }
  const key = keyPool.toString('base64url', keyPoolOffset, keyPoolOffset + KEY_BYTES);
  // Wiped once taken, so that no key stays readable in the pool.
  keyPool.fill(0, keyPoolOffset, keyPoolOffset + KEY_BYTES);
  keyPoolOffset += KEY_BYTES;
  return key;
}

interface Signer {
  key: string;
  /** What is signed for a probe of this URL: its method and path with query. */
  probePayload: string;
}

export class SigningKeys {
  /** URL → instance id → signer, in registration order. */
  readonly #byUrl = new Map<string, Map<string, Signer>>();
  /** URL → the signer in use: the last one registered. */
  readonly #current = new Map<string, Signer>();

  /** Signs requests to `url` with `key` on behalf of instance `id`. */
  add(url: string | null, id: string, key: string | null): void {
    if (url === null || key === null) return;
    let signers = this.#byUrl.get(url);
    if (!signers) this.#byUrl.set(url, (signers = new Map()));
    const signer = { key, probePayload: probePayload(pathWithQuery(url)) };
    signers.delete(id);
    signers.set(id, signer);
    this.#current.set(url, signer);
  }

  /** Instance `id` no longer uses `url`. */
  remove(url: string | null, id: string): void {
    if (url === null) return;
    const signers = this.#byUrl.get(url);
    if (!signers?.delete(id)) return;
    const last = [...signers.values()].pop();
    if (last) return void this.#current.set(url, last);
    this.#byUrl.delete(url);
    this.#current.delete(url);
  }

  /** The `roster-signature` value for `payload` sent to `url`, or null when nothing signs for it. */
  sign(url: string, payload: string, now: number): string | null {
    const signer = this.#current.get(url);
    return signer ? signPayload(signer.key, payload, now) : null;
  }

  /** The `roster-signature` value for a probe (GET) of `url`, or null. */
  signProbe(url: string, now: number): string | null {
    const signer = this.#current.get(url);
    return signer ? signPayload(signer.key, signer.probePayload, now) : null;
  }
}

function pathWithQuery(url: string): string {
  const parsed = new URL(url);
  return `${parsed.pathname}${parsed.search}`;
}
