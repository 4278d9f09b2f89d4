// The log service's HTTP app, not listening: the course's POST /log and Roster's /v1/logs.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { z } from 'zod';
import { forbidden, internal, invalidRequest, methodNotAllowed, notFound, payloadTooLarge, unauthorized } from '../../protocol/errors.js';
import { parseOrThrow, serviceName } from '../../protocol/validation.js';
import { frameworkErrors, renderErrors } from '../../shared/fastify-errors.js';
import { DEFAULT_COURSE_SOURCES, SourceList } from '../../shared/source-list.js';
import { flag, func, resolveOptions, withMethods } from '../../shared/options.js';
import { LOG_LEVELS, LOG_LIMITS, type LogEntry, type LogStore } from './log-store.js';
import { canRead, canWrite, writerName, type Writer, type WriterIdentity } from './writer-identity.js';

const aCidrList = 'a list of IP addresses or CIDRs';

/** The course's unauthenticated POST /log. */
const courseLogOptionsSchema = z.strictObject({
  /** false: POST /log answers 404 saying it is switched off. */
  enabled: flag().default(true),
  /** Peers allowed to POST /log, as CIDRs. Default loopback: 127.0.0.0/8 and ::1. */
  sources: z.array(z.string({ error: aCidrList }), { error: aCidrList }).readonly().default(DEFAULT_COURSE_SOURCES),
});

const logAppOptionsSchema = z.strictObject({
  store: withMethods<LogStore>(['append', 'recent', 'close'], 'a LogStore (append, recent, close)'),
  /**
   * Says whose token a /v1/logs request carries (the registry's GET /v1/auth/whoami). null: nothing
   * can check tokens (registered with the course's registry), so /v1/logs answers 404 and writers
   * fall back to the course's POST /log.
   */
  identity: withMethods<Pick<WriterIdentity, 'identify'>>(['identify'], 'a WriterIdentity (identify(token)) or null').nullable(),
  /** A pino logger; without one the app logs nothing. */
  logger: withMethods<NonNullable<FastifyServerOptions['loggerInstance']>>(['info', 'warn', 'error', 'child'], 'a pino logger').optional(),
  /** The clock that stamps each entry's time on receipt. */
  now: func<() => number>('a function returning the time in milliseconds').optional(),
  course: courseLogOptionsSchema.prefault({}),
});

export type LogAppOptions = z.input<typeof logAppOptionsSchema>;
export type CourseLogOptions = z.input<typeof courseLogOptionsSchema>;

/**
 * Control characters a message may not hold: all but tab and line feed. The log file is JSON lines,
 * so a multi-line message (a stack trace) stays one line there; NUL, ESC and CR would reach the
 * terminal or the page of whoever reads the log as they are.
 */
const MESSAGE_CONTROL_CHARACTER = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/;
const MESSAGE_CONTROL_RULE = 'must not contain control characters other than tab and line feed (such as NUL, ESC or a carriage return)';

const message = z
  .string()
  .refine((text) => !MESSAGE_CONTROL_CHARACTER.test(text), MESSAGE_CONTROL_RULE)
  .refine((text) => Buffer.byteLength(text) <= LOG_LIMITS.messageBytes, `must be at most ${LOG_LIMITS.messageBytes} bytes`);

// `service` and `time` are the writer's claims: the entry is stored under the token's identity and
// the time it arrived; a claimed time is kept as clientTime.
const entrySchema = z
  .object({
    service: serviceName.optional(),
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

export function buildLogApp(input: LogAppOptions): FastifyInstance {
  const options = resolveOptions(logAppOptionsSchema, input, { owner: 'buildLogApp' });
  const course = courseOf(options.course);
  const app = Fastify({ ...(options.logger ? { loggerInstance: options.logger } : { logger: false }), frameworkErrors });
  const now = options.now ?? Date.now;

  renderErrors(app, { server: 'the log service', notFound: {} });

  // Per-request logs would drown the service's own; routes log at warn and above.
  app.register(courseLogRoute(options.store, now, course), { logLevel: 'warn' });
  if (options.identity) app.register(v1LogRoutes(options.store, now, options.identity), { prefix: '/v1', logLevel: 'warn' });
  else app.register(v1Unavailable, { prefix: '/v1', logLevel: 'warn' });
  return app;
}

interface ResolvedCourse {
  enabled: boolean;
  sources: SourceList;
  described: string;
}

/** Each source is checked as an address here, where the message can quote the bad one. */
function courseOf({ enabled, sources }: z.output<typeof courseLogOptionsSchema>): ResolvedCourse {
  return { enabled, sources: new SourceList(sources, 'course.sources'), described: sources.join(', ') };
}

/**
 * The course's POST /log carries no credential, so it is kept to what a course service on this
 * machine (or the allowed networks) sends: no browser (browsers send Origin), no other peer.
 */
function courseGate(course: ResolvedCourse) {
  return async (request: FastifyRequest): Promise<void> => {
    if (!course.enabled) throw notFound('the course API (POST /log) is switched off on this log service; send entries to POST /v1/logs with a token');
    if (request.headers.origin !== undefined) throw forbidden('POST /log is refused from a web page (the request has an Origin header)');
    const peer = request.socket.remoteAddress;
    if (!course.sources.allows(peer)) throw forbidden(`POST /log is accepted only from ${course.described}; this request came from ${peer ?? 'an unknown address'}`);
  };
}

/** POST /log as the course has it: raw text, 200 with an empty body, 400 when empty, 405 otherwise. */
function courseLogRoute(store: LogStore, now: () => number, course: ResolvedCourse) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', courseGate(course));
    // The course reads the body whatever its Content-Type (its client sends text/plain).
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    renderErrors(app, { format: 'text', server: 'the log service' });

    app.post('/log', async (request, reply) => {
      const text = typeof request.body === 'string' ? request.body : '';
      const entry = parseCourseLine(text, now());
      if (entry.message === '') throw invalidRequest('send the log entry as the body');
      if (MESSAGE_CONTROL_CHARACTER.test(entry.message)) throw invalidRequest(`the message ${MESSAGE_CONTROL_RULE}`);
      if (Buffer.byteLength(entry.message) > LOG_LIMITS.messageBytes) {
        throw payloadTooLarge(LOG_LIMITS.messageBytes, 'the message');
      }
      await store.append(entry);
      return reply.code(200).send();
    });

    app.route({
      method: ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'],
      url: '/log',
      handler: async (_request, reply) => {
        reply.header('Allow', 'POST');
        throw methodNotAllowed('method not allowed: POST a log entry');
      },
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

/** Who made each authenticated request: set by the hook, read by the handlers. */
const writers = new WeakMap<FastifyRequest, Writer>();

/** One hook guards every /v1 route: a token the registry knows, with the scope the method needs. */
function v1Gate(identity: Pick<WriterIdentity, 'identify'>) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const token = bearerToken(request.headers.authorization);
    // No token: only a registry with authentication off accepts that (it says so).
    const writer = token === null && request.headers.authorization !== undefined ? null : await identity.identify(token);
    if (writer === null) {
      reply.header('WWW-Authenticate', 'Bearer');
      throw unauthorized(token === null ? 'send a token: Authorization: Bearer <token>' : 'the registry does not know this token');
    }
    const reading = request.method === 'GET' || request.method === 'HEAD';
    if (!(reading ? canRead(writer) : canWrite(writer))) {
      throw forbidden(`token "${writer.name}" lacks the scope this needs: ${reading ? 'read' : 'register'}`);
    }
    writers.set(request, writer);
  };
}

function bearerToken(header: string | undefined): string | null {
  const match = /^Bearer +(\S+) *$/i.exec(header ?? '');
  return match ? (match[1] as string) : null;
}

function writerOf(request: FastifyRequest): Writer {
  const writer = writers.get(request);
  if (!writer) throw internal('the request passed no authentication');
  return writer;
}

function v1LogRoutes(store: LogStore, now: () => number, identity: Pick<WriterIdentity, 'identify'>) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    // /v1 speaks JSON only: other bodies get 415 before a handler runs.
    app.removeContentTypeParser('text/plain');
    app.addHook('onRequest', v1Gate(identity));

    app.post('/logs', { bodyLimit: LOG_LIMITS.batchBodyBytes }, async (request, reply) => {
      const entries = parseEntries(request.body, writerOf(request), now());
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
        throw methodNotAllowed('method not allowed: GET reads entries, POST adds them');
      },
    });
  };
}

/** No way to check a token: /v1/logs is not offered, and a 404 sends the service logger to POST /log. */
async function v1Unavailable(app: FastifyInstance): Promise<void> {
  app.all('/logs', async () => {
    throw notFound('no /v1/logs here: this log service is registered with a course registry, which cannot check tokens; POST /log instead');
  });
}

/** One entry or an array of them, validated, stored under the writer's name and the time of receipt. */
function parseEntries(body: unknown, writer: Writer, now: number): LogEntry[] {
  const parsed = Array.isArray(body) ? parseOrThrow(batchSchema, body, 'log entries') : [parseOrThrow(entrySchema, body, 'log entry')];
  const time = new Date(now).toISOString();
  return parsed.map(({ service: claimedService, level, message, time: claimed }) => {
    const entry: LogEntry = { time, service: writerName(writer, claimedService), level, message };
    if (claimed !== undefined) entry.clientTime = new Date(claimed).toISOString();
    return entry;
  });
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
