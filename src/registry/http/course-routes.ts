// The Go course's registry API at /services, byte for byte (docs/protocol.md).
// Answers are plain text with the course's status codes: a Go client checks only for 200.
import type { FastifyInstance } from 'fastify';
import { parseCourseRegistration } from '../../protocol/validation.js';
import type { RegistryApi } from '../registry-api.js';
import { instanceNotFoundAt, invalidJson, invalidRequest, methodNotAllowed } from '../../protocol/errors.js';
import { renderErrors } from '../../shared/fastify-errors.js';
import { callerOf } from './access-guard.js';
import { WRITE_RATE_LIMIT } from './write-rate-limit.js';

// Course callers (who carry no token) are checked by the access guard: allowed source
// addresses, no Origin header, JSON bodies; they act as the caller "course".
const COURSE = { config: { access: 'course' } } as const;
/** Registering and deregistering: counted against the caller's write rate too. */
const COURSE_WRITE = { config: { access: 'course', rateLimit: WRITE_RATE_LIMIT } } as const;

/** `bodyLimitBytes` is the server's, named when a body is over it. */
export function courseRoutes(registry: RegistryApi, bodyLimitBytes?: number) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    // The course registry decodes the body whatever its Content-Type: take every body as text.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));

    renderErrors(app, { format: 'text', server: 'the registry', bodyLimitBytes, bodyLimitName: bodyLimitBytes === undefined ? undefined : 'maxBodyBytes' });

    app.post('/services', COURSE_WRITE, async (request, reply) => {
      const body = parseJson(request.body);
      const registration = parseCourseRegistration(body);
      await registry.register({
        service: registration.ServiceName,
        url: registration.ServiceURL,
        requires: registration.RequiredServices,
        updateUrl: registration.ServiceUpdateURL || null,
        heartbeatUrl: registration.HeartbeatURL || null,
        ttlMs: null,
        metadata: {},
        protocol: 'course',
        owner: request.principal?.name ?? null,
      }, callerOf(request));
      return reply.code(200).send();
    });

    app.delete('/services', COURSE_WRITE, async (request, reply) => {
      const url = typeof request.body === 'string' ? request.body.trim() : '';
      if (!url) throw invalidRequest('send the ServiceURL of the instance to remove as the body');
      const removed = registry.deregisterByUrl(url, callerOf(request));
      if (!removed) throw instanceNotFoundAt(url);
      await registry.persisted();
      return reply.code(200).send();
    });

    app.route({
      method: ['GET', 'PUT', 'PATCH', 'HEAD', 'OPTIONS'],
      url: '/services',
      ...COURSE,
      handler: async (_request, reply) => {
        reply.header('Allow', 'POST, DELETE');
        throw methodNotAllowed('method not allowed: POST registers, DELETE deregisters');
      },
    });
  };
}

function parseJson(body: unknown): unknown {
  try {
    return JSON.parse(typeof body === 'string' ? body : '');
  } catch {
    throw invalidJson();
  }
}

