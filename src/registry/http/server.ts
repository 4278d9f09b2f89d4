// Builds the registry's HTTP app without listening: `main` listens, tests inject or use port 0.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { LIMITS } from '../../protocol/validation.js';
import { ChangeLog } from '../change-log.js';
import { createRegistryMetrics } from '../metrics.js';
import type { RegistryApi } from '../registry-api.js';
import { courseRoutes } from './course-routes.js';
import { dashboardRoutes } from './dashboard-routes.js';
import { toRosterError } from '../../shared/fastify-errors.js';
import { metricsRoutes } from './metrics-routes.js';
import { v1Routes } from './v1-routes.js';
import { watchRoutes } from './watch-routes.js';

export interface RegistryServerOptions {
  /** A pino logger; without one the app logs nothing. */
  logger?: FastifyServerOptions['loggerInstance'];
  version?: string;
}

export function buildRegistryServer(registry: RegistryApi, options: RegistryServerOptions = {}): FastifyInstance {
  const app = Fastify({
    bodyLimit: LIMITS.bodyBytes,
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    // Registrations wait for the initial patch; keep sockets open long enough for that.
    requestTimeout: 30_000,
  });

  app.setErrorHandler((error, request, reply) => {
    const { error: rosterError, internal } = toRosterError(error);
    if (internal) request.log.error({ err: error }, 'request failed');
    return reply.code(rosterError.status).send(rosterError.toJSON());
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}; see docs/api.md` }),
  );

  app.get('/v1', async () => ({
    name: 'roster',
    version: options.version ?? '0.0.0',
    api: { roster: '/v1', course: '/services', watch: '/v1/watch', metrics: '/metrics', dashboard: '/' },
  }));

  const changeLog = new ChangeLog(registry);
  const watch = watchRoutes(registry, changeLog);
  const metrics = createRegistryMetrics(registry, { openStreams: () => watch.openStreams });
  app.addHook('onClose', async () => {
    changeLog.close();
    metrics.close();
  });

  // Per-request logs would drown the registry's own; routes log at warn and above.
  app.register(courseRoutes(registry), { logLevel: 'warn' });
  app.register(v1Routes(registry, options.version ?? '0.0.0'), { prefix: '/v1', logLevel: 'warn' });
  app.register(watch.plugin, { prefix: '/v1', logLevel: 'warn' });
  app.register(metricsRoutes(metrics), { logLevel: 'warn' });
  app.register(dashboardRoutes(), { logLevel: 'warn' });
  return app;
}
