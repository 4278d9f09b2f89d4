// Roster's own JSON API under /v1 (docs/api.md).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { forbidden, instanceNotFound, invalidRequest, type RosterError } from '../../protocol/errors.js';
import { instanceId } from '../../protocol/ids.js';
import { httpUrl, parseOrThrow, parseRegisterRequest, serviceName } from '../../protocol/validation.js';
import type { RegistryHealthResponse, ServicesResponse } from '../../protocol/v1.js';
import { toView } from '../catalog.js';
import type { RegistryApi } from '../registry-api.js';
import { mayRegisterService, type Principal } from '../auth/scopes.js';
import { callerOf } from './access-guard.js';
import { WRITE_RATE_LIMIT } from './write-rate-limit.js';
import { patientStream, stateCacheOf } from './state-cache.js';
import { DEFAULT_WATCH_KEEP_ALIVE_MS } from './watch-routes.js';
import { systemClock, type Clock } from '../../shared/clock.js';

export const idParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'is not an instance id') });
export const nameParams = z.object({ name: serviceName });
export const byUrlQuery = z.object({ url: httpUrl });

const READ = { config: { access: 'read' } } as const;
// Every route that needs the register scope is a write: counted against the caller's write rate.
const REGISTER = { config: { access: 'register', rateLimit: WRITE_RATE_LIMIT } } as const;
// A renewal needs the register scope but is no counted write: it changes no revision and costs
// O(1), and one credential keeping many TTL instances alive renews each every few seconds.
const RENEW = { config: { access: 'register' } } as const;

/**
 * `clock` is the registry's: the uptime and the lookup cache's age are read on it.
 * `statePatienceMs`: how long a GET /v1/state reader may take nothing before it is cut.
 */
export function v1Routes(registry: RegistryApi, version: string, clock: Clock = systemClock, statePatienceMs = DEFAULT_WATCH_KEEP_ALIVE_MS) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    // /v1 speaks JSON only: any other body is refused with 415 before a handler runs.
    app.removeContentTypeParser('text/plain');

    app.post('/instances', REGISTER, async (request, reply) => {
      const body = parseRegisterRequest(request.body);
      const principal = request.principal ?? null;
      // The scope was checked by the guard; a token limited to some services is checked here.
      if (principal && !mayRegisterService(principal, body.service)) throw serviceNotAllowed(principal, body.service);
      const result = await registry.register({
        service: body.service,
        url: body.url,
        requires: body.requires ?? [],
        updateUrl: body.updateUrl ?? null,
        heartbeatUrl: body.heartbeatUrl ?? null,
        ttlMs: body.heartbeatUrl || body.liveness === 'session' ? null : (body.ttlMs ?? registry.options.health.defaultTtlMs),
        liveness: body.liveness ?? 'probe',
        metadata: body.metadata ?? {},
        protocol: 'v1',
        owner: principal?.name ?? null,
      }, callerOf(request));
      const { created, ...answer } = result;
      return reply.code(created ? 201 : 200).send(answer);
    });

    app.get('/instances', READ, async (request) => {
      if ((request.query as { url?: unknown }).url === undefined) throw invalidRequest('GET /v1/instances needs the instance URL: ?url=<url> (or GET /v1/instances/{id})');
      const { url } = parseOrThrow(byUrlQuery, request.query, 'query');
      return { instance: toView(registry.instance(instanceId(url))) };
    });

    app.get('/instances/:id', READ, async (request) => {
      const { id } = parseOrThrow(idParams, request.params, 'path');
      return { instance: toView(registry.instance(id)) };
    });

    app.delete('/instances/:id', REGISTER, async (request) => {
      const { id } = parseOrThrow(idParams, request.params, 'path');
      const removed = registry.deregister(id, callerOf(request));
      if (!removed) throw instanceNotFound(id);
      // Acknowledged only once stored: a registry killed after the answer still knows it is gone.
      await registry.persisted();
      return { instance: toView(removed) };
    });

    app.post('/instances/:id/renew', RENEW, async (request) => {
      const { id } = parseOrThrow(idParams, request.params, 'path');
      return { instance: toView(registry.renew(id, callerOf(request))) };
    });

    app.get('/services', READ, async (): Promise<ServicesResponse> => ({
      revision: registry.revision,
      services: registry.services(),
    }));

    const lookups = new LookupCache(clock);
    // Not async: the hottest route skips a promise per request. A name found in the cache was
    // validated when its answer was cached.
    app.get('/services/:name', READ, (request, reply) => {
      const { revision } = registry;
      const raw = (request.params as { name: string }).name;
      let body = lookups.get(revision, raw);
      if (body === undefined) {
        const { name } = parseOrThrow(nameParams, request.params, 'path');
        body = lookups.set(name, JSON.stringify({ revision, service: registry.service(name) }));
      }
      reply.type('application/json; charset=utf-8').send(body);
    });

    // Built once per revision and sent in chunks as the socket takes them: a large catalog never
    // holds the event loop for long, and readers at the same revision share one serialization.
    // A reader that takes nothing for as long as a watch stream's is cut, as that stream is.
    const states = stateCacheOf(registry, clock);
    const patience = { clock, patienceMs: statePatienceMs };
    app.get('/state', READ, async (_request, reply) => {
      const state = await states.get();
      const body = patientStream(reply.raw, state.chunks(), patience);
      return reply.type('application/json; charset=utf-8').header('content-length', state.bytes).send(body);
    });

    app.get('/health', { config: { access: 'public' } }, async (_request, reply) => {
      const body: RegistryHealthResponse = {
        status: registry.closing ? 'stopping' : 'ok',
        revision: registry.revision,
        instances: registry.instances().length,
        uptimeMs: clock.now() - registry.startedAt,
        version,
        ...registry.role(),
        ...selfPreservationOf(registry),
      };
      return reply.code(registry.closing ? 503 : 200).send(body);
    });
  };
}

/** `selfPreservation` of GET /v1/health, when this node knows it (it probes). */
function selfPreservationOf(registry: RegistryApi): Pick<RegistryHealthResponse, 'selfPreservation'> {
  const status = registry.selfPreservation?.();
  if (!status) return {};
  return { selfPreservation: { active: status.active, since: status.since === null ? null : new Date(status.since).toISOString(), reason: status.reason } };
}

function serviceNotAllowed(principal: Principal, service: string): RosterError {
  return forbidden(`token "${principal.name}" may register only ${principal.services?.join(', ')}; not "${service}"`);
}

/**
 * The hottest read, answered from a cache: one serialized answer per service, valid for the
 * current revision and at most a second (probe times and latencies change without a revision).
 */
class LookupCache {
  static readonly MAX_AGE_MS = 1000;
  static readonly MAX_ENTRIES = 1024;
  #revision = -1;
  #since = 0;
  #answers = new Map<string, string>();
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** The cached answer for `name` at `revision`, if any; clears what is stale. */
  get(revision: number, name: string): string | undefined {
    const now = this.#clock.now();
    if (revision !== this.#revision || now - this.#since > LookupCache.MAX_AGE_MS || this.#answers.size >= LookupCache.MAX_ENTRIES) {
      this.#answers.clear();
      this.#revision = revision;
      this.#since = now;
    }
    return this.#answers.get(name);
  }

  /** Caches `answer` for `name` at the revision of the last get(); returns it. */
  set(name: string, answer: string): string {
    this.#answers.set(name, answer);
    return answer;
  }
}
