// The one authentication hook: it guards every route of the registry. Each route declares what
// it needs in its route config (`config: { access }`); a route that declares nothing is refused,
// so a new route is never open by mistake.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { forbidden, unauthorized, unsupportedMediaType, type RosterError } from '../../protocol/errors.js';
import { CALLER_HEADER, FORWARDED_HEADER, SOURCE_HEADER, decodeCaller, decodeSource, sameSecret } from '../auth/forwarded.js';
import { ACCESS_LEVELS, COURSE_PRINCIPAL, hasScope, toCaller, type Access, type Principal, type Scope } from '../auth/scopes.js';
import type { Caller } from '../registry-api.js';
import type { SourceList } from '../../shared/source-list.js';
import type { Authenticator } from '../auth/token-set.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call this route; see access-guard.ts. Required on every route. */
    access?: Access;
  }
  interface FastifyRequest {
    /** The checked caller; null with authentication off or on public routes. */
    principal: Principal | null;
    /** The caller's address as the node that forwarded this request heard it; null unless forwarded with the cluster secret. */
    forwardedSource: string | null;
  }
}

export const SESSION_COOKIE = 'roster_session';

export interface AccessGuardOptions {
  /** null: authentication is off (--insecure). */
  authenticator: Authenticator | null;
  course: { enabled: boolean; sources: SourceList };
  /** Cluster mode: the secret that forwarded writes carry; without it none is accepted. */
  clusterSecret?: () => string | undefined;
}

/** Who asks, as the guard checked it; undefined with authentication off (a trusted change). */
export function callerOf(request: FastifyRequest): Caller | undefined {
  const principal = request.principal ?? null;
  return principal ? toCaller(principal) : undefined;
}

/** The caller's source address: as the forwarding node heard it (vouched for by the cluster secret), else the peer's. */
export function sourceAddressOf(request: FastifyRequest): string {
  return request.forwardedSource ?? request.ip;
}

/** The guard as a plugin that applies to the whole app (not encapsulated). */
export function accessGuard(options: AccessGuardOptions) {
  const plugin = async (app: FastifyInstance): Promise<void> => {
    app.decorateRequest('principal', null);
    app.decorateRequest('forwardedSource', null);
    // A callback hook, not an async one: the guard decides synchronously, and the hottest
    // route (a lookup) should not pay a promise per request for it.
    app.addHook('onRequest', (request, reply, done) => {
      try {
        guard(request, reply, options);
      } catch (error) {
        return done(error as Error);
      }
      done();
    });
  };
  // What fastify-plugin does: hooks added here reach every route, not only this plugin's.
  return Object.assign(plugin, { [Symbol.for('skip-override')]: true });
}

function guard(request: FastifyRequest, reply: FastifyReply, options: AccessGuardOptions): void {
  // The not-found handler protects nothing and answers the same to everyone.
  if (request.is404) return;
  const access = request.routeOptions.config?.access;
  if (!access || !ACCESS_LEVELS.includes(access)) {
    request.log.error({ route: request.routeOptions.url }, 'route declares no access rule; refused');
    throw forbidden('this route declares no access rule, so it is refused');
  }
  const forwarded = forwardedCaller(request, reply, options);
  if (access === 'public') return;
  if (access === 'course') return checkCourse(request, options, forwarded);
  if (forwarded) return admit(request, reply, forwarded.principal, access, options.authenticator !== null);
  if (!options.authenticator) return;
  const principal = authenticate(request, reply, access, options.authenticator);
  admit(request, reply, principal, access, true);
}

/** A request another node of the cluster passed on: trusted only with the cluster secret. */
function forwardedCaller(request: FastifyRequest, reply: FastifyReply, options: AccessGuardOptions): { principal: Principal | null } | undefined {
  const presented = request.headers[FORWARDED_HEADER];
  if (presented === undefined) return undefined;
  const expected = options.clusterSecret?.();
  if (!expected || typeof presented !== 'string' || !sameSecret(expected, presented)) {
    throw challenge(reply, `a forwarded request (${FORWARDED_HEADER}) must carry this cluster's secret`);
  }
  const source = request.headers[SOURCE_HEADER];
  if (typeof source === 'string') request.forwardedSource = decodeSource(source);
  const caller = request.headers[CALLER_HEADER];
  return { principal: typeof caller === 'string' ? decodeCaller(caller) : null };
}

function admit(request: FastifyRequest, reply: FastifyReply, principal: Principal | null, needed: Scope, required: boolean): void {
  if (!principal) {
    if (required) throw challenge(reply, `this route needs a token with the "${needed}" scope`);
    return;
  }
  if (!hasScope(principal, needed)) {
    const has = principal.scopes.length > 0 ? principal.scopes.join(', ') : 'no scope';
    throw forbidden(`this route needs the "${needed}" scope; token "${principal.name}" has ${has}`);
  }
  request.principal = principal;
}

/** The bearer token, or for GET/HEAD of a read route the dashboard's session cookie. */
function authenticate(request: FastifyRequest, reply: FastifyReply, access: Scope, authenticator: Authenticator): Principal {
  const header = request.headers.authorization;
  const cookieAllowed = access === 'read' && (request.method === 'GET' || request.method === 'HEAD');
  const secret = header !== undefined ? bearerSecret(header) : cookieAllowed ? sessionCookie(request.headers.cookie) : undefined;
  if (secret === undefined) {
    const how = header !== undefined ? 'the Authorization header must be "Bearer <token>"' : 'send Authorization: Bearer <token>';
    throw challenge(reply, `this route needs a token with the "${access}" scope: ${how}${cookieAllowed && header === undefined ? ', or sign in at /login?token=<token>' : ''}`);
  }
  const principal = authenticator.authenticate(secret);
  if (!principal) throw challenge(reply, `the token is not valid (unknown, revoked or mistyped); this route needs the "${access}" scope`);
  return principal;
}

function bearerSecret(header: string): string | undefined {
  const match = /^Bearer +([\x21-\x7e]{1,1024}) *$/i.exec(header);
  return match?.[1];
}

export function sessionCookie(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name !== SESSION_COOKIE) continue;
    try {
      const secret = decodeURIComponent(value.join('='));
      return secret.length > 0 && secret.length <= 1024 ? secret : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The course API's rules: loopback (or allowed) sources, no browsers, JSON bodies. */
function checkCourse(request: FastifyRequest, options: AccessGuardOptions, forwarded: { principal: Principal | null } | undefined): void {
  if (!options.course.enabled) {
    throw forbidden('the course API (/services) is switched off on this registry (--no-course-api); use /v1 with a token');
  }
  // A forwarding node has already checked the source and the Origin of the original request.
  if (!forwarded) {
    if (request.headers.origin !== undefined) {
      throw forbidden('the course API refuses requests with an Origin header (browsers send one; the course services do not)');
    }
    if (!options.course.sources.allows(request.ip)) {
      throw forbidden(`the course API takes requests only from allowed source addresses (--course-sources); ${request.ip} is not one`);
    }
  }
  if (request.method === 'POST' && !isJson(request.headers['content-type'])) {
    throw unsupportedMediaType('the course API takes POST /services only with Content-Type: application/json');
  }
  request.principal = forwarded ? forwarded.principal : options.authenticator ? COURSE_PRINCIPAL : null;
}

function isJson(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() === 'application/json';
}

/** UNAUTHORIZED, saying in a header how to authenticate. */
function challenge(reply: FastifyReply, message: string): RosterError {
  reply.header('www-authenticate', 'Bearer realm="roster"');
  return unauthorized(message);
}
