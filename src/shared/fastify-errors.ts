// How every Roster server answers a failed request: one error handler and one not-found handler,
// rendering a RosterError as JSON `{ code, message }` (or its message as plain text, for the
// course routes, whose Go clients read text).
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  RosterError,
  emptyBody,
  internal,
  invalidJson,
  invalidRequest,
  methodNotAllowed,
  payloadTooLarge,
  routeNotFound,
  unsupportedMediaType,
  uriTooLong,
} from '../protocol/errors.js';

export interface ErrorRenderingOptions {
  /** 'json' (default): `{ code, message }`; 'text': the message alone, as text/plain. */
  format?: 'json' | 'text';
  /** Who failed, in the INTERNAL message: "the log service". Default "the server". */
  server?: string;
  /** The body limit, named in PAYLOAD_TOO_LARGE so that a client can tell how much to cut. */
  bodyLimitBytes?: number;
  /** The option that sets the body limit (`maxBodyBytes`), named in PAYLOAD_TOO_LARGE too. */
  bodyLimitName?: string;
  /**
   * Also answers unknown routes (NOT_FOUND), with this hint after the path, and a known path
   * asked with a method it does not take (METHOD_NOT_ALLOWED, with `Allow`). Off in sub-scopes.
   */
  notFound?: { hint?: string };
  /** Answers some errors another way (the dashboard's sign-in page); undefined renders as usual. */
  override?: (error: RosterError, request: FastifyRequest, reply: FastifyReply) => FastifyReply | undefined;
}

/**
 * Installs the error (and, with `notFound`, not-found) handler on `app`'s scope. A function
 * rather than a registered plugin: fastify scopes error handlers, and each caller means its own.
 */
export function renderErrors(app: FastifyInstance, options: ErrorRenderingOptions = {}): void {
  const send = options.format === 'text' ? sendText : sendJson;
  app.setErrorHandler((error, request, reply) => {
    const { error: rosterError, internal: ours } = toRosterError(error, options);
    if (ours) request.log.error({ err: error }, 'request failed');
    return options.override?.(rosterError, request, reply) ?? send(reply, rosterError);
  });
  if (options.notFound) {
    const hint = options.notFound.hint ?? '';
    const methodsOf = collectRouteMethods(app);
    app.setNotFoundHandler((request, reply) => {
      const path = pathOf(request);
      const allowed = methodsOf(path);
      if (allowed.length === 0) return send(reply, routeNotFound(request.method, path, hint));
      void reply.header('allow', allowed.join(', '));
      return send(reply, methodNotAllowed(`method ${request.method} is not allowed on ${path}; it takes ${allowed.join(', ')}${hint}`));
    });
  }
}

/**
 * Records the methods of every route added from now on (fastify's onRoute hook), and returns
 * the methods that a request path would have been answered with: none for an unknown path.
 */
function collectRouteMethods(app: FastifyInstance): (path: string) => string[] {
  const routes: Array<{ pattern: RegExp; methods: string[] }> = [];
  app.addHook('onRoute', (route) => {
    routes.push({ pattern: routePattern(route.url ?? route.path ?? ''), methods: [route.method].flat().map(String) });
  });
  return (path) => [...new Set(routes.filter((route) => route.pattern.test(path)).flatMap((route) => route.methods))].sort();
}

/** `/v1/instances/:id` → a regular expression that the request's path matches. */
function routePattern(url: string): RegExp {
  const escaped = url
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment === '*' ? '.*' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${escaped}/?$`);
}

/**
 * Fastify's `frameworkErrors` option: its own refusals before any route is found (a path that
 * does not decode, a path parameter over its length) answered `{ code, message }` like ours,
 * instead of fastify's `{ error, code: "FST_ERR_…", statusCode }`.
 */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const { error: rosterError } = toRosterError(error);
  void reply.code(rosterError.status).send(rosterError.toJSON());
}

const FASTIFY_CODES: Record<string, (options: ErrorRenderingOptions) => RosterError> = {
  FST_ERR_CTP_INVALID_JSON_BODY: () => invalidJson(),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => emptyBody(),
  FST_ERR_CTP_BODY_TOO_LARGE: (options) => payloadTooLarge(options.bodyLimitBytes, 'the body', options.bodyLimitName),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => unsupportedMediaType(),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => invalidRequest('Content-Length does not match the body'),
  // A path segment longer than the router takes: answered as what it is, without echoing it back.
  FST_ERR_MAX_PARAM_LENGTH: () => uriTooLong(),
};

/** The RosterError a failed request answers with; `internal` is true for our own bugs. */
export function toRosterError(error: unknown, options: ErrorRenderingOptions = {}): { error: RosterError; internal: boolean } {
  if (error instanceof RosterError) return { error, internal: false };
  const fastifyError = error as FastifyError;
  const known = fastifyError?.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (known) return { error: known(options), internal: false };
  if (fastifyError?.statusCode && fastifyError.statusCode < 500) return { error: invalidRequest(fastifyError.message), internal: false };
  const server = options.server ?? 'the server';
  return { error: internal(`${server} failed to handle this request; see its log`), internal: true };
}

export function pathOf(request: FastifyRequest): string {
  return request.url.split('?')[0] ?? request.url;
}

function sendJson(reply: FastifyReply, error: RosterError): FastifyReply {
  return reply.code(error.status).send(error.toJSON());
}

function sendText(reply: FastifyReply, error: RosterError): FastifyReply {
  return reply.code(error.status).type('text/plain; charset=utf-8').send(`${error.message}\n`);
}
