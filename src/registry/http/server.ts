// Builds the registry's HTTP app without listening: `main` listens, tests inject or use port 0.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { LIMITS } from '../../protocol/validation.js';
import { ChangeLog, type ChangeLogOptions } from '../change-log.js';
import { createRegistryMetrics } from '../metrics.js';
import type { RegistryApi } from '../registry-api.js';
import { courseRoutes } from './course-routes.js';
import { SIGN_IN_HEADERS, SIGN_IN_PAGE, dashboardRoutes, wantsPage } from './dashboard-routes.js';
import { renderErrors } from '../../shared/fastify-errors.js';
import { metricsRoutes } from './metrics-routes.js';
import { v1Routes } from './v1-routes.js';
import { watchRoutes, type WatchRoutesOptions } from './watch-routes.js';
import { checkOption } from '../../protocol/errors.js';
import { systemClock, type Clock } from '../../shared/clock.js';
import { DEFAULT_COURSE_SOURCES, SourceList } from '../../shared/source-list.js';
import { TokenSet, sha256Hex, type Authenticator } from '../auth/token-set.js';
import { MIN_SECRET_LENGTH, toTokenEntries, type TokenSpec } from '../auth/tokens-file.js';
import type { Principal } from '../auth/scopes.js';
import { accessGuard } from './access-guard.js';
import { loginRoute, whoamiRoute } from './auth-routes.js';

export interface RegistryServerAuthOptions {
  /** Turns authentication off: every route is open to anyone who can reach the registry. */
  insecure?: boolean;
  /** Checks bearer tokens, e.g. the Credentials that startRegistry loads (tokens file and admin token). */
  authenticator?: Authenticator;
  /** The secret of an admin token named "admin". */
  adminToken?: string;
  /** More tokens, stated as in a tokens file. */
  tokens?: TokenSpec[];
}

export interface RegistryCourseOptions {
  /** false: the course API (/services) refuses every request. Default true. */
  enabled?: boolean;
  /** Source addresses (IPs or CIDRs) allowed to use the course API. Default loopback only. */
  sources?: string[];
}

export interface RegistryServerOptions {
  /** A pino logger; without one the app logs nothing. */
  logger?: FastifyServerOptions['loggerInstance'];
  version?: string;
  /**
   * Authentication is on by default: with no token given, only the public routes and the
   * course API answer.
   */
  auth?: RegistryServerAuthOptions;
  course?: RegistryCourseOptions;
  /** Serve HTTPS with this certificate and key (PEM). */
  https?: { cert: string | Buffer; key: string | Buffer };
  /** Cluster mode: the secret that writes forwarded by other nodes carry. */
  clusterSecret?: () => string | undefined;
  /** The registry's clock (default the system's): uptime, caches and keep-alives read it. */
  clock?: Clock;
  /** The watch stream (GET /v1/watch): its keep-alive and how much a slow reader may hold. */
  watch?: RegistryWatchOptions;
  /** The recent changes kept for watchers that reconnect with the revision they last saw. */
  changeLog?: ChangeLogOptions;
}

/** The watch stream's settings; its clock is the server's (`clock`). */
export type RegistryWatchOptions = Omit<WatchRoutesOptions, 'clock'>;

/** The registry's app; it also tells how many watch streams are open (as /metrics reports them). */
export type RegistryServer = FastifyInstance & { readonly openWatchStreams: number };

export function buildRegistryServer(registry: RegistryApi, options: RegistryServerOptions = {}): RegistryServer {
  const watchSettings = watchOptionsOf(options.watch ?? {});
  const changeLogSettings = changeLogOptionsOf(options.changeLog ?? {});
  const authenticator = authenticatorOf(options.auth ?? {});
  const course = courseOptionsOf(options.course ?? {});
  const app = Fastify({
    bodyLimit: LIMITS.bodyBytes,
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    // Registrations wait for the initial patch; keep sockets open long enough for that.
    requestTimeout: 30_000,
    ...(options.https ? { https: options.https } : {}),
  }) as unknown as FastifyInstance;
  app.register(accessGuard({ authenticator, course, clusterSecret: options.clusterSecret }));

  renderErrors(app, {
    server: 'the registry',
    bodyLimitBytes: LIMITS.bodyBytes,
    notFound: { hint: '; see docs/api.md' },
    // A person opening the dashboard without signing in gets a page that says how, not JSON.
    override: (error, request, reply) => {
      if (error.code !== 'UNAUTHORIZED' || !wantsPage(request.method, request.url, request.headers.accept)) return undefined;
      return reply.code(401).headers(SIGN_IN_HEADERS).type('text/html; charset=utf-8').send(SIGN_IN_PAGE);
    },
  });

  // Every route is added inside a plugin, after the guard: its onRoute listeners see them all.
  app.register(async (scope) => {
    scope.get('/v1', { config: { access: 'public' } }, async () => ({
      name: 'roster',
      version: options.version ?? '0.0.0',
      api: { roster: '/v1', course: '/services', watch: '/v1/watch', metrics: '/metrics', dashboard: '/', login: '/login' },
    }));
  });

  const changeLog = new ChangeLog(registry, changeLogSettings);
  const clock = options.clock ?? systemClock;
  const watch = watchRoutes(registry, changeLog, { ...watchSettings, clock });
  const metrics = createRegistryMetrics(registry, { openStreams: () => watch.openStreams });
  app.decorate('openWatchStreams', { getter: () => watch.openStreams });
  app.addHook('onClose', async () => {
    await Promise.all([changeLog.close(), metrics.close()]);
  });

  // Per-request logs would drown the registry's own; routes log at warn and above.
  app.register(courseRoutes(registry), { logLevel: 'warn' });
  app.register(loginRoute({ authenticator, secureCookie: options.https !== undefined }), { logLevel: 'warn' });
  app.register(whoamiRoute({ authenticator }), { prefix: '/v1', logLevel: 'warn' });
  app.register(v1Routes(registry, options.version ?? '0.0.0', clock), { prefix: '/v1', logLevel: 'warn' });
  app.register(watch.plugin, { prefix: '/v1', logLevel: 'warn' });
  app.register(metricsRoutes(metrics), { logLevel: 'warn' });
  app.register(dashboardRoutes(), { logLevel: 'warn' });
  return app as RegistryServer;
}

/** Checks the watch options here, so that messages name them as the caller gave them. */
function watchOptionsOf(watch: RegistryWatchOptions): RegistryWatchOptions {
  const { keepAliveMs, maxBufferedEvents } = watch;
  checkOption(keepAliveMs === undefined || (Number.isInteger(keepAliveMs) && keepAliveMs >= 1), 'watch.keepAliveMs', 'a whole number of milliseconds ≥ 1');
  checkOption(maxBufferedEvents === undefined || (Number.isInteger(maxBufferedEvents) && maxBufferedEvents >= 1), 'watch.maxBufferedEvents', 'a whole number ≥ 1');
  return { keepAliveMs, maxBufferedEvents };
}

function changeLogOptionsOf(changeLog: ChangeLogOptions): ChangeLogOptions {
  const { capacity } = changeLog;
  checkOption(capacity === undefined || (Number.isInteger(capacity) && capacity >= 1), 'changeLog.capacity', 'a whole number ≥ 1');
  return { capacity };
}

/** The tokens a server accepts; null when authentication is off. Options are checked here. */
function authenticatorOf(auth: RegistryServerAuthOptions): Authenticator | null {
  checkOption(auth.insecure === undefined || typeof auth.insecure === 'boolean', 'auth.insecure', 'true or false');
  if (auth.insecure) return null;
  const { adminToken } = auth;
  checkOption(adminToken === undefined || (typeof adminToken === 'string' && adminToken.length >= MIN_SECRET_LENGTH && !/\s/.test(adminToken)), 'auth.adminToken', `a secret of at least ${MIN_SECRET_LENGTH} characters without spaces`);
  checkOption(auth.tokens === undefined || Array.isArray(auth.tokens), 'auth.tokens', 'a list of tokens as a tokens file states them');
  const entries = toTokenEntries(auth.tokens ?? [], 'in option "auth.tokens"');
  if (adminToken) entries.unshift({ name: 'admin', sha256: sha256Hex(adminToken), scopes: ['admin'], services: null });
  const given = auth.authenticator;
  // Each set hashes the secret it is shown: ask only the sets that hold tokens.
  if (given && entries.length === 0) return given;
  const own = new TokenSet(entries);
  if (!given) return own;
  return { authenticate: (secret: string): Principal | undefined => given.authenticate(secret) ?? own.authenticate(secret) };
}

/** Checks the course options (messages name the option) and resolves their defaults. */
export function courseOptionsOf(course: RegistryCourseOptions): { enabled: boolean; sources: SourceList } {
  checkOption(course.enabled === undefined || typeof course.enabled === 'boolean', 'course.enabled', 'true or false');
  const sources = course.sources ?? DEFAULT_COURSE_SOURCES;
  checkOption(Array.isArray(sources) && sources.every((s) => typeof s === 'string'), 'course.sources', 'a list of IP addresses or CIDRs');
  return { enabled: course.enabled ?? true, sources: new SourceList(sources, 'course.sources') };
}
