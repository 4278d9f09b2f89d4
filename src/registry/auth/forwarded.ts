// How a cluster node passes a write on to the leader with the identity it has checked: the
// cluster secret (which only registry nodes know) and the caller, base64url JSON.
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { z } from 'zod';
import { unauthorized } from '../../protocol/errors.js';
import { SCOPES, isAdmin, type Principal } from './scopes.js';

export const FORWARDED_HEADER = 'x-roster-forwarded';
export const CALLER_HEADER = 'x-roster-caller';
/** The address the forwarding node heard the caller from: the leader counts course and anonymous writes by it. */
export const SOURCE_HEADER = 'x-roster-source';

const forwardedCaller = z.object({
  name: z.string().min(1).max(64),
  admin: z.boolean(),
  scopes: z.array(z.enum(SCOPES)).max(SCOPES.length),
  services: z.array(z.string().max(64)).max(1000).nullable(),
});

export function encodeCaller(principal: Principal): string {
  const { name, scopes, services } = principal;
  return Buffer.from(JSON.stringify({ name, admin: isAdmin(principal), scopes, services })).toString('base64url');
}

/** The principal a follower vouches for; throws UNAUTHORIZED when the header is garbled. */
export function decodeCaller(header: string): Principal {
  try {
    const { name, scopes, services } = forwardedCaller.parse(JSON.parse(Buffer.from(header, 'base64url').toString('utf8')));
    return { name, scopes, services };
  } catch {
    throw unauthorized(`the ${CALLER_HEADER} header of a forwarded request is not a valid caller`);
  }
}

/** The caller's address a follower vouches for; throws UNAUTHORIZED when it is not an IP address. */
export function decodeSource(header: string): string {
  if (isIP(header) === 0) throw unauthorized(`the ${SOURCE_HEADER} header of a forwarded request is not an IP address`);
  return header;
}

/** Compares two secrets in constant time, whatever their lengths. */
export function sameSecret(expected: string, presented: string): boolean {
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(presented).digest();
  return timingSafeEqual(a, b);
}
