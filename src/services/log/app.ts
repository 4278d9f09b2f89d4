// The log service's HTTP app, not listening: the course's POST /log and Roster's /v1/logs.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import { z } from 'zod';
import { RosterError } from '../../protocol/errors.js';
import { parseOrThrow, serviceName } from '../../protocol/validation.js';
import { toRosterError } from '../../shared/fastify-errors.js';
import { LOG_LEVELS, LOG_LIMITS, type LogEntry, type LogStore } from './log-store.js';

export interface LogAppOptions {
  store: LogStore;
  /** A pino logger; without one the app logs nothing. */
  logger?: FastifyServerOptions['loggerInstance'];
  /** Clock for entries without a time (tests). */
  now?: () => number;
}

const message = z
  .string()
  .refine((text) => Buffer.byteLength(text) <= LOG_LIMITS.messageBytes, `must be at most ${LOG_LIMITS.messageBytes} bytes`);

const entrySchema = z
  .object({
    service: serviceName,
    level: z.enum(LOG_LEVELS),
    message,
    time: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();

const batchSchema = z
  .array(entrySchema)
  .min(1, 'must hold at least one entry')
  .max(LOG_LIMITS.batchEntries, `must hold at most ${LOG_LIMITS.batchEntries} entries`);

const querySchema = z.object({
  service: serviceName.optional(),
  level: z.enum(LOG_LEVELS).optional(),
  limit: z.coerce.number().int().min(1).max(LOG_LIMITS.queryLimit).default(100),
});

/** `[GradingService] - message`: the prefix the course's log client puts on every line. */
const COURSE_PREFIX = /^\[([^\]\n]*)\] - /;

export function buildLogApp(options: LogAppOptions): FastifyInstance {
  const app = Fastify(options.logger ? { loggerInstance: options.logger } : { logger: false });
  const now = options.now ?? Date.now;

  app.setErrorHandler((error, request, reply) => {
    const { error: rosterError, internal } = toRosterError(error);
    if (!internal) return reply.code(rosterError.status).send(rosterError.toJSON());
    request.log.error({ err: error }, 'request failed');
    return reply.code(500).send({ code: 'INTERNAL', message: 'the log service failed to handle this request; see its log' });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );

  // Per-request logs would drown the service's own; routes log at warn and above.
  app.register(courseLogRoute(options.store, now), { logLevel: 'warn' });
  app.register(v1LogRoutes(options.store, now), { prefix: '/v1', logLevel: 'warn' });
  return app;
}

/** POST /log as the course has it: raw text, 200 with an empty body, 400 when empty, 405 otherwise. */
function courseLogRoute(store: LogStore, now: () => number) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    // The course reads the body whatever its Content-Type (its client sends text/plain).
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    app.setErrorHandler((error, request, reply) => {
      const { error: rosterError, internal } = toRosterError(error);
      if (internal) request.log.error({ err: error }, 'POST /log failed');
      return sendText(reply, rosterError.status, internal ? 'internal error' : rosterError.message);
    });

    app.post('/log', async (request, reply) => {
      const text = typeof request.body === 'string' ? request.body : '';
      const entry = parseCourseLine(text, now());
      if (entry.message === '') return sendText(reply, 400, 'send the log entry as the body');
      if (Buffer.byteLength(entry.message) > LOG_LIMITS.messageBytes) {
        return sendText(reply, 413, `the message must be at most ${LOG_LIMITS.messageBytes} bytes`);
      }
      await store.append(entry);
      return reply.code(200).send();
    });

    app.route({
      method: ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'],
      url: '/log',
      handler: async (_request, reply) => sendText(reply.header('Allow', 'POST'), 405, 'method not allowed: POST a log entry'),
    });
  };
}

/** `[Name] - message\n` → service Name; text without a valid prefix is kept whole under "unknown". */
export function parseCourseLine(text: string, now: number): LogEntry {
  const line = text.replace(/\r?\n$/, '');
  const match = COURSE_PREFIX.exec(line);
  const named = match && serviceName.safeParse(match[1]).success;
  return {
    time: new Date(now).toISOString(),
    service: named ? (match[1] as string) : 'unknown',
    level: 'info',
    message: named ? line.slice(match[0].length) : line,
  };
}

function v1LogRoutes(store: LogStore, now: () => number) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    // /v1 speaks JSON only: other bodies get 415 before a handler runs.
    app.removeContentTypeParser('text/plain');

    app.post('/logs', { bodyLimit: LOG_LIMITS.batchBodyBytes }, async (request, reply) => {
      const entries = parseEntries(request.body, now());
      await store.append(entries);
      return reply.code(201).send({ accepted: entries.length });
    });

    app.get('/logs', async (request) => {
      const query = parseOrThrow(querySchema, request.query, 'query');
      return { entries: store.recent(withoutUndefined(query)) };
    });

    app.route({
      method: ['PUT', 'DELETE', 'PATCH'],
      url: '/logs',
      handler: async (_request, reply) => {
        reply.header('Allow', 'GET, POST');
        throw new RosterError('METHOD_NOT_ALLOWED', 'method not allowed: GET reads entries, POST adds them');
      },
    });
  };
}

/** One entry or an array of them, validated, with times in UTC ISO form. */
function parseEntries(body: unknown, now: number): LogEntry[] {
  const parsed = Array.isArray(body) ? parseOrThrow(batchSchema, body, 'log entries') : [parseOrThrow(entrySchema, body, 'log entry')];
  return parsed.map(({ service, level, message, time }) => ({
    time: new Date(time ?? now).toISOString(),
    service,
    level,
    message,
  }));
}

function sendText(reply: FastifyReply, status: number, text: string): FastifyReply {
  return reply.code(status).type('text/plain; charset=utf-8').send(`${text}\n`);
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
