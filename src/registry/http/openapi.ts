// GET /v1/openapi.json: the /v1 API as an OpenAPI 3.1 document, built from the zod schemas that
// validate its requests and describe its answers, so that the description cannot drift from
// what the registry checks. docs/api.md stays the prose reference; a test holds the two together.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ErrorCodes } from '../../protocol/errors.js';
import { registerRequestSchema, serviceName } from '../../protocol/validation.js';
import { instanceViewSchema, watchChangeSchema, watchSnapshotSchema } from '../../protocol/watch.js';
import { byUrlQuery, idParams, nameParams } from './v1-routes.js';
import { maintenanceBody } from './maintenance-routes.js';

type JsonSchema = Record<string, unknown>;

/**
 * What a request may send, and what an answer may hold: both as the schemas accept them (before
 * defaults), so that a field an older registry leaves out is not described as required.
 */
const jsonSchemaOf = (schema: z.ZodType): JsonSchema => strip(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }));

/** OpenAPI 3.1 takes JSON Schema 2020-12 as is; the dialect is declared once, at the top. */
function strip(schema: JsonSchema): JsonSchema {
  const { $schema: _dialect, ...rest } = schema;
  return rest;
}

const revision = z.int().min(0);
const serviceView = z.object({
  name: z.string(),
  instances: z.array(instanceViewSchema),
  passing: z.int().min(0),
  critical: z.int().min(0),
  requires: z.array(z.string()),
  requiredBy: z.array(z.string()),
});
const providerView = z.object({ service: z.string(), url: z.string(), id: z.string(), metadata: z.record(z.string(), z.unknown()) });
const registerResponse = z.object({
  instance: instanceViewSchema,
  revision,
  providers: z.record(z.string(), z.array(providerView)),
  delivered: z.boolean().nullable(),
  signingKey: z.string().nullable(),
});
const healthResponse = z.object({
  status: z.enum(['ok', 'stopping']),
  revision,
  instances: z.int().min(0),
  uptimeMs: z.number(),
  version: z.string(),
  role: z.enum(['single', 'leader', 'follower']),
  leader: z.string().nullable().optional(),
  selfPreservation: z.object({ active: z.boolean(), since: z.string().nullable(), reason: z.string().nullable() }).optional(),
});
const errorBody = z.object({ code: z.enum(Object.keys(ErrorCodes) as [string, ...string[]]), message: z.string() });
const oneInstance = z.object({ instance: instanceViewSchema });
const serviceMaintenanceAnswer = z.object({
  service: z.string(),
  maintenance: z.object({ service: z.string(), reason: z.string(), since: z.string(), by: z.string().nullable(), drainMs: z.int().nullable() }).nullable(),
  instances: z.array(instanceViewSchema),
});

/** A registration, as docs/api.md shows one; the test checks that both pass the schema. */
export const REGISTER_EXAMPLE = {
  service: 'GradingService',
  url: 'http://localhost:6100',
  requires: ['LogService'],
  updateUrl: 'http://localhost:6100/services',
  heartbeatUrl: 'http://localhost:6100/heartbeat',
  metadata: { version: '1.4.0', tags: ['eu'] },
};

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: JsonSchema) => ({ content: { 'application/json': { schema } } });
const answer = (description: string, schema: JsonSchema) => ({ description, ...json(schema) });
const ERRORS = { default: answer('an error: `{ code, message }` (docs/api.md, "Error codes")', ref('Error')) };
const BEARER = [{ bearer: [] }];

/** Path and query parameters from the routes' own zod objects. */
function parameters(where: 'path' | 'query', schema: z.ZodObject): JsonSchema[] {
  return Object.entries(schema.shape).map(([name, field]) => ({ name, in: where, required: true, schema: jsonSchemaOf(field as z.ZodType) }));
}

function operation(summary: string, scope: string, responses: Record<string, unknown>, extra: JsonSchema = {}): JsonSchema {
  const security = scope === 'public' ? [] : BEARER;
  return { summary, 'x-roster-scope': scope, security, ...extra, responses: { ...responses, ...ERRORS } };
}

function paths(): JsonSchema {
  const id = parameters('path', idParams);
  return {
    '/v1/instances': {
      post: operation('register an instance', 'register', { 200: answer('registered again (the same URL)', ref('RegisterResponse')), 201: answer('registered', ref('RegisterResponse')) }, {
        requestBody: { required: true, content: { 'application/json': { schema: ref('RegisterRequest'), example: REGISTER_EXAMPLE } } },
      }),
      get: operation('one instance, by its URL', 'read', { 200: answer('the instance', ref('OneInstance')) }, { parameters: parameters('query', byUrlQuery) }),
    },
    '/v1/instances/{id}': {
      get: operation('one instance', 'read', { 200: answer('the instance', ref('OneInstance')) }, { parameters: id }),
      delete: operation('deregister', 'register', { 200: answer('the instance removed', ref('OneInstance')) }, { parameters: id }),
    },
    '/v1/instances/{id}/renew': {
      post: operation('TTL mode: "I am alive"', 'register', { 200: answer('the instance', ref('OneInstance')) }, { parameters: id }),
    },
    '/v1/instances/{id}/session': {
      get: operation('session liveness: the session stream', 'register', { 200: sessionAnswer() }, { parameters: id }),
    },
    '/v1/instances/{id}/session/ping': {
      post: operation('session liveness: answer a ping', 'register', { 200: answer('whether the session is open', jsonSchemaOf(z.object({ connected: z.boolean() }))) }, {
        parameters: [...id, { name: 'token', in: 'query', required: false, schema: { type: 'string', pattern: '^\\d{1,15}$' }, description: 'the token of the session stream (its `open` line)' }],
      }),
    },
    '/v1/instances/{id}/maintenance': {
      put: operation('put an instance in maintenance (owner or admin)', 'register', { 200: answer('the instance', ref('OneInstance')) }, { parameters: id, requestBody: maintenanceRequest() }),
      delete: operation('end an instance\'s maintenance (owner or admin)', 'register', { 200: answer('the instance', ref('OneInstance')) }, { parameters: id }),
    },
    '/v1/services/{name}/maintenance': {
      put: operation('put a whole service in maintenance (admin, or a token limited to it)', 'register', { 200: answer('the service\'s maintenance and instances', jsonSchemaOf(serviceMaintenanceAnswer)) }, { parameters: parameters('path', nameParams), requestBody: maintenanceRequest() }),
      delete: operation('end a service\'s maintenance (admin, or a token limited to it)', 'register', { 200: answer('the service\'s instances', jsonSchemaOf(serviceMaintenanceAnswer)) }, { parameters: parameters('path', nameParams) }),
    },
    '/v1/services': {
      get: operation('every service', 'read', { 200: answer('the services', jsonSchemaOf(z.object({ revision, services: z.array(serviceView) }))) }),
    },
    '/v1/services/{name}': {
      get: operation('one service', 'read', { 200: answer('the service', jsonSchemaOf(z.object({ revision, service: serviceView }))) }, { parameters: parameters('path', nameParams) }),
    },
    '/v1/state': { get: operation('the whole catalog', 'read', { 200: answer('the catalog', jsonSchemaOf(watchSnapshotSchema)) }) },
    '/v1/health': { get: operation('the registry itself', 'public', { 200: answer('up', ref('Health')), 503: answer('stopping', ref('Health')) }) },
    '/v1/watch': { get: operation('a stream of changes (Server-Sent Events)', 'read', { 200: watchAnswer() }, { parameters: watchParameters() }) },
    '/v1/openapi.json': { get: operation('this document', 'read', { 200: answer('OpenAPI 3.1', { type: 'object' }) }) },
  };
}

function maintenanceRequest(): JsonSchema {
  return { required: true, content: { 'application/json': { schema: jsonSchemaOf(maintenanceBody), example: { reason: 'deploy 1.5.0', drainMs: 30000 } } } };
}

/** One JSON object a line: `open` (token, pingMs, stallMs, graceMs), then a `ping` every pingMs. */
function sessionAnswer(): JsonSchema {
  return { description: 'application/x-ndjson: an `open` line, then a `ping` line every sessionPingMs; kept open', content: { 'application/x-ndjson': { schema: { type: 'string' } } } };
}

/** The stream's events are `snapshot` (the catalog) and `change`; SSE frames them as text. */
function watchAnswer(): JsonSchema {
  const events = { snapshot: jsonSchemaOf(watchSnapshotSchema), change: jsonSchemaOf(watchChangeSchema) };
  return { description: 'text/event-stream: `snapshot` and `change` events, each `data:` one JSON object', content: { 'text/event-stream': { schema: { type: 'string' }, 'x-roster-events': events } } };
}

function watchParameters(): JsonSchema[] {
  const names = jsonSchemaOf(z.array(serviceName));
  return [
    { name: 'since', in: 'query', required: false, schema: jsonSchemaOf(revision), description: 'a revision: send the changes after it' },
    { name: 'Last-Event-ID', in: 'header', required: false, schema: jsonSchemaOf(revision), description: 'the same, as EventSource sends it; wins over since' },
    { name: 'services', in: 'query', required: false, schema: { type: 'string' }, description: `comma-separated service names, each ${JSON.stringify(names.items)}` },
  ];
}

/** The whole document; `version` is the registry's. */
export function openApiDocument(version: string): JsonSchema {
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: { title: 'Roster registry API', version, description: 'The /v1 API of the Roster registry; see docs/api.md.', license: { name: 'MIT', identifier: 'MIT' } },
    paths: paths(),
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a Roster token: read, register or admin scope' } },
      schemas: {
        RegisterRequest: jsonSchemaOf(registerRequestSchema),
        RegisterResponse: jsonSchemaOf(registerResponse),
        Instance: jsonSchemaOf(instanceViewSchema),
        OneInstance: jsonSchemaOf(oneInstance),
        Health: jsonSchemaOf(healthResponse),
        Error: jsonSchemaOf(errorBody),
      },
    },
  };
}

/** Read scope, like every other description of the catalog; built once, on the first request. */
export function openApiRoute(version: string) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    let document: string | null = null;
    app.get('/openapi.json', { config: { access: 'read' } }, async (_request, reply) => {
      document ??= JSON.stringify(openApiDocument(version));
      return reply.type('application/json; charset=utf-8').send(document);
    });
  };
}
