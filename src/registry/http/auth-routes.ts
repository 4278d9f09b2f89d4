// GET /login (the dashboard's sign-in) and GET /v1/auth/whoami (who a token is).
import type { FastifyInstance } from 'fastify';
import { invalidRequest, unauthorized } from '../../protocol/errors.js';
import type { Authenticator } from '../auth/token-set.js';
import { SESSION_COOKIE } from './access-guard.js';

export interface AuthRoutesOptions {
  /** null: authentication is off. */
  authenticator: Authenticator | null;
  /** Served over HTTPS: the session cookie is marked Secure. */
  secureCookie: boolean;
}

/** Registered at the root: GET /login. */
export function loginRoute(options: AuthRoutesOptions) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get('/login', { config: { access: 'public' } }, async (request, reply) => {
      const { token } = (request.query ?? {}) as { token?: unknown };
      reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer');
      if (!options.authenticator) return reply.redirect('/', 303);
      if (typeof token !== 'string' || token.length === 0 || token.length > 1024) {
        throw invalidRequest('open /login?token=<token> with a token of this registry (for example the one in <data-dir>/admin.token)');
      }
      if (!options.authenticator.authenticate(token)) {
        reply.header('www-authenticate', 'Bearer realm="roster"');
        throw unauthorized('the token is not valid (unknown, revoked or mistyped)');
      }
      // The cookie carries the token itself: revoking the token ends every session at once.
      const cookie = [`${SESSION_COOKIE}=${encodeURIComponent(token)}`, 'Path=/', 'HttpOnly', 'SameSite=Strict'];
      if (options.secureCookie) cookie.push('Secure');
      return reply.header('set-cookie', cookie.join('; ')).redirect('/', 303);
    });
  };
}

/** Registered under /v1: GET /v1/auth/whoami. */
export function whoamiRoute(options: Pick<AuthRoutesOptions, 'authenticator'>) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get('/auth/whoami', { config: { access: 'read' } }, async (request) => {
      const principal = request.principal;
      // Authentication off: everyone may do everything, and the answer says so.
      if (!options.authenticator || !principal) return { name: 'anonymous', scopes: ['admin'], services: null, authentication: false };
      return { name: principal.name, scopes: principal.scopes, services: principal.services, authentication: true };
    });
  };
}
