// Builds the registry's HTTP app without listening: `main` listens, tests inject or use port 0.
import type { ServerOptions } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { LimitRejections, resolveLimits, type RegistryLimits } from '../limits.js';
import { ChangeLog, type ChangeLogOptions } from '../change-log.js';
import { createRegistryMetrics } from '../metrics.js';
import type { RegistryApi } from '../registry-api.js';
import { courseRoutes } from './course-routes.js';
import { SIGN_IN_HEADERS, SIGN_IN_PAGE, dashboardRoutes, wantsPage } from './dashboard-routes.js';
import { frameworkErrors, renderErrors } from '../../shared/fastify-errors.js';
import { metricsRoutes } from './metrics-routes.js';
import { v1Routes } from './v1-routes.js';
import { openApiRoute } from './openapi.js';
import { watchRoutes } from './watch-routes.js';
import { sessionRoutes } from './session-routes.js';
import { maintenanceRoutes } from './maintenance-routes.js';
import { resolveServerOptions, type RegistryServerAuthOptions, type RegistryWatchOptions } from './server-options.js';
import { systemClock, type Clock } from '../../shared/clock.js';
import { courseAccessOf, type RegistryCourseOptions } from './course-options.js';
import { TokenSet, sha256Hex, type Authenticator } from '../auth/token-set.js';
import { toTokenEntries } from '../auth/tokens-file.js';
import type { Principal } from '../auth/scopes.js';
import { accessGuard } from './access-guard.js';
import { loginRoute, whoamiRoute } from './auth-routes.js';
import { registerWriteRateLimit } from './write-rate-limit.js';

export { courseOptionsOf, type RegistryCourseOptions } from './course-options.js';
export type { RegistryServerAuthOptions, RegistryWatchOptions } from './server-options.js';

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
  /** Bounds on bodies, headers, connections, timeouts, watch streams and write rates; default the registry's (`registry.options.limits`). */
  limits?: RegistryLimits;
  /** Counts refusals by limit for /metrics; startRegistry hands the registry core the same one. */
  rejections?: LimitRejections;
}

/** The registry's app; it also tells how many watch streams are open (as /metrics reports them). */
export type RegistryServer = FastifyInstance & { readonly openWatchStreams: number };

export function buildRegistryServer(registry: RegistryApi, options: RegistryServerOptions = {}): RegistryServer {
  const settings = resolveServerOptions(options);
  const watchSettings = settings.watch;
  const changeLogSettings = settings.changeLog;
  const authenticator = authenticatorOf(settings.auth);
  const course = courseAccessOf(settings.course);
  // Limits handed in directly are checked as the registry's are (headersTimeoutMs ≤ requestTimeoutMs…).
  const limits = options.limits ? resolveLimits(options.limits) : registry.options.limits;
  const rejections = options.rejections ?? new LimitRejections();
  const nodeServer = nodeServerOptions(limits);
  const app = Fastify({
    bodyLimit: limits.maxBodyBytes,
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    requestTimeout: limits.requestTimeoutMs,
    frameworkErrors,
    ...(options.https ? { https: { ...options.https, ...nodeServer } } : { http: nodeServer }),
  }) as unknown as FastifyInstance;
  countServerRefusals(app, limits, rejections);
  app.register(accessGuard({ authenticator, course, clusterSecret: options.clusterSecret }));
  // Before the routes: its route hook runs on the write routes, after the guard's.
  registerWriteRateLimit(app, { limits, rejections, clock: options.clock ?? systemClock });

  renderErrors(app, {
    server: 'the registry',
    bodyLimitBytes: limits.maxBodyBytes,
    bodyLimitName: 'maxBodyBytes',
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
  const watch = watchRoutes(registry, changeLog, { ...watchSettings, clock, limits, rejections });
  const metrics = createRegistryMetrics(registry, { openStreams: () => watch.openStreams, rejections });
  app.decorate('openWatchStreams', { getter: () => watch.openStreams });
  app.addHook('onClose', async () => {
    await Promise.all([changeLog.close(), metrics.close()]);
  });

  // Per-request logs would drown the registry's own; routes log at warn and above.
  app.register(courseRoutes(registry, limits.maxBodyBytes), { logLevel: 'warn' });
  app.register(loginRoute({ authenticator, secureCookie: options.https !== undefined }), { logLevel: 'warn' });
  app.register(whoamiRoute({ authenticator }), { prefix: '/v1', logLevel: 'warn' });
  app.register(v1Routes(registry, options.version ?? '0.0.0', clock), { prefix: '/v1', logLevel: 'warn' });
  app.register(openApiRoute(options.version ?? '0.0.0'), { prefix: '/v1', logLevel: 'warn' });
  app.register(watch.plugin, { prefix: '/v1', logLevel: 'warn' });
  app.register(sessionRoutes(registry), { prefix: '/v1', logLevel: 'warn' });
  app.register(maintenanceRoutes(registry), { prefix: '/v1', logLevel: 'warn' });
  app.register(metricsRoutes(metrics), { logLevel: 'warn' });
  app.register(dashboardRoutes(), { logLevel: 'warn' });
  return app as RegistryServer;
}

/**
 * Whether the request that timed out had sent its headers (then the whole-request timeout hit,
 * else the headers timeout): Node's parser holds the request it is reading, not complete yet.
 * Internal to Node, so read with care; it only chooses the label a refusal is counted under.
 */
function headersArrived(socket: Duplex): boolean {
  const incoming = (socket as Duplex & { parser?: { incoming?: { complete?: boolean } | null } | null }).parser?.incoming;
  return incoming !== null && incoming !== undefined && incoming.complete === false;
}

/** The limits Node's HTTP server enforces itself: header size (431) and the slow-client timeouts. */
function nodeServerOptions(limits: RegistryLimits): ServerOptions {
  return {
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    // Node checks the timeouts on this interval (30 s by default): a tenth of the headers timeout
    // keeps a slow client from holding its socket much longer than the limit says.
    connectionsCheckingInterval: Math.min(1000, Math.max(10, Math.ceil(limits.headersTimeoutMs / 10))),
  };
}

/**
 * Node refuses what is over these limits before any route runs (431, a dropped connection, 408);
 * fastify refuses a large body (413). Each is counted by the limit it hit.
 */
function countServerRefusals(app: FastifyInstance, limits: RegistryLimits, rejections: LimitRejections): void {
  app.server.maxConnections = limits.maxConnections;
  app.server.on('drop', () => rejections.count('maxConnections'));
  app.server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'HPE_HEADER_OVERFLOW') rejections.count('maxHeaderBytes');
    else if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') rejections.count(headersArrived(socket) ? 'requestTimeoutMs' : 'headersTimeoutMs');
  });
  app.addHook('onError', (_request, _reply, error, done) => {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') rejections.count('maxBodyBytes');
    done();
  });
}

/** The tokens a server accepts; null when authentication is off. `auth` is checked by its schema. */
function authenticatorOf(auth: RegistryServerAuthOptions): Authenticator | null {
  if (auth.insecure) return null;
  const { adminToken } = auth;
  const entries = toTokenEntries(auth.tokens ?? [], 'in option "auth.tokens"');
  if (adminToken) entries.unshift({ name: 'admin', sha256: sha256Hex(adminToken), scopes: ['admin'], services: null });
  const given = auth.authenticator;
  // Each set hashes the secret it is shown: ask only the sets that hold tokens.
  if (given && entries.length === 0) return given;
  const own = new TokenSet(entries);
  if (!given) return own;
  return { authenticate: (secret: string): Principal | undefined => given.authenticate(secret) ?? own.authenticate(secret) };
}
