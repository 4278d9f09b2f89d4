// What a credential may do. Scopes nest: admin ⊃ register ⊃ read.
import type { Caller } from '../registry-api.js';

export const SCOPES = ['read', 'register', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * What a route needs, declared in its route `config.access`: nothing (public), a token scope,
 * or the course API's own rules (source address, no Origin, JSON bodies).
 */
export type Access = 'public' | Scope | 'course';
export const ACCESS_LEVELS: readonly Access[] = ['public', ...SCOPES, 'course'];

/** Who a request comes from, once its credential is checked. */
export interface Principal {
  name: string;
  scopes: readonly Scope[];
  /** Service names a register token may register; null = any. */
  services: readonly string[] | null;
}

/** Course callers: they can change only what course callers (or no one) own. */
export const COURSE_PRINCIPAL: Principal = Object.freeze({ name: 'course', scopes: Object.freeze([]), services: null });

export function hasScope(principal: Principal, needed: Scope): boolean {
  const { scopes } = principal;
  if (scopes.includes('admin')) return true;
  if (needed === 'read') return scopes.includes('read') || scopes.includes('register');
  return scopes.includes(needed);
}

export function isAdmin(principal: Principal): boolean {
  return principal.scopes.includes('admin');
}

/** Whether `principal` may register instances of `service` (its token may list the services). */
export function mayRegisterService(principal: Principal, service: string): boolean {
  return isAdmin(principal) || principal.services === null || principal.services.includes(service);
}

export function toCaller(principal: Principal): Caller {
  return { name: principal.name, admin: isAdmin(principal) };
}
