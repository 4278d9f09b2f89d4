// A set of tokens, looked up by the SHA-256 of the presented secret. Only digests are kept, so
// a dump of memory or of the tokens file (in its sha256 form) gives no usable secret.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Principal } from './scopes.js';

export interface TokenEntry extends Principal {
  /** Hex SHA-256 of the secret. */
  sha256: string;
}

/** Anything that turns a presented secret into a principal: a TokenSet, a reloading Credentials. */
export interface Authenticator {
  authenticate(secret: string): Principal | undefined;
}

export function sha256Hex(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export class TokenSet implements Authenticator {
  readonly #byDigest = new Map<string, { digest: Buffer; principal: Principal }>();
  readonly #names: readonly string[];

  constructor(entries: readonly TokenEntry[]) {
    for (const { sha256, name, scopes, services } of entries) {
      const digest = sha256.toLowerCase();
      const principal = Object.freeze({ name, scopes: Object.freeze([...scopes]), services: services && Object.freeze([...services]) });
      this.#byDigest.set(digest, { digest: Buffer.from(digest, 'hex'), principal });
    }
    this.#names = Object.freeze(entries.map((entry) => entry.name));
  }

  /** Names of the tokens, for logs (never their secrets). */
  get names(): readonly string[] {
    return this.#names;
  }

  authenticate(secret: string): Principal | undefined {
    const digest = createHash('sha256').update(secret, 'utf8').digest();
    const found = this.#byDigest.get(digest.toString('hex'));
    // The map lookup already matched; compare in constant time anyway, as any secret check should.
    if (!found || !timingSafeEqual(found.digest, digest)) return undefined;
    return found.principal;
  }
}
