// The Go course's registry API at /services, byte for byte (docs/protocol.md).
// Answers are plain text with the course's status codes: a Go client checks only for 200.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { parseCourseRegistration } from '../../protocol/validation.js';
import type { RegistryApi } from '../registry-api.js';
import { toRosterError } from '../../shared/fastify-errors.js';
import { callerOf } from './access-guard.js';

// Course callers (who carry no token) are checked by the access guard: allowed source
// addresses, no Origin header, JSON bodies; they act as the caller "course".
const COURSE = { config: { access: 'course' } } as const;

export function courseRoutes(registry: RegistryApi) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    // The course registry decodes the body whatever its Content-Type: take every body as text.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));

    app.setErrorHandler((error, request, reply) => {
      const { error: rosterError, internal } = toRosterError(error);
      if (internal) request.log.error({ err: error }, 'course route failed');
      return sendText(reply, rosterError.status, rosterError.message);
    });

    app.post('/services', COURSE, async (request, reply) => {
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

    app.delete('/services', COURSE, async (request, reply) => {
      const url = typeof request.body === 'string' ? request.body.trim() : '';
      if (!url) return sendText(reply, 400, 'send the ServiceURL of the instance to remove as the body');
      const removed = registry.deregisterByUrl(url, callerOf(request));
      if (!removed) return sendText(reply, 404, `no instance is registered at ${url}`);
      return reply.code(200).send();
    });

    app.route({
      method: ['GET', 'PUT', 'PATCH', 'HEAD', 'OPTIONS'],
      url: '/services',
      ...COURSE,
      handler: async (_request, reply) => {
        reply.header('Allow', 'POST, DELETE');
        return sendText(reply, 405, 'method not allowed: POST registers, DELETE deregisters');
      },
    });
  };
}

function parseJson(body: unknown): unknown {
  try {
    return JSON.parse(typeof body === 'string' ? body : '');
  } catch {
    throw Object.assign(new Error('the body is not valid JSON'), { code: 'FST_ERR_CTP_INVALID_JSON_BODY', statusCode: 400 });
  }
}

function sendText(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).type('text/plain; charset=utf-8').send(`${message}\n`);
}
