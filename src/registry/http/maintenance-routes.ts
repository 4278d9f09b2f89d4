// Maintenance over HTTP (docs/api.md, "Maintenance"): PUT and DELETE of
// /v1/instances/{id}/maintenance and /v1/services/{name}/maintenance. An instance's owner or an
// admin may put it in maintenance; a whole service needs an admin, or a token whose `services`
// list names that service (a token for any service is not enough: it may belong to anyone).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { forbidden, internal } from '../../protocol/errors.js';
import { NO_CONTROL_CHARACTERS, hasControlCharacter, parseOrThrow } from '../../protocol/validation.js';
import type { MaintenanceRequest } from '../../protocol/v1.js';
import { toView } from '../catalog.js';
import type { MaintenanceHost } from '../maintenance.js';
import type { RegistryApi } from '../registry-api.js';
import { isAdmin } from '../auth/scopes.js';
import { callerOf } from './access-guard.js';
import { idParams, nameParams } from './v1-routes.js';
import { WRITE_RATE_LIMIT } from './write-rate-limit.js';

export const MAINTENANCE_LIMITS = {
  reasonLength: 200,
  /** An hour: longer than any in-flight request worth waiting for. */
  maxDrainMs: 3_600_000,
} as const;

export const maintenanceBody = z.strictObject({
  reason: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(MAINTENANCE_LIMITS.reasonLength, `must be at most ${MAINTENANCE_LIMITS.reasonLength} characters`)
    .refine((text) => !hasControlCharacter(text), NO_CONTROL_CHARACTERS),
  drainMs: z.int().min(0).max(MAINTENANCE_LIMITS.maxDrainMs, `must be at most ${MAINTENANCE_LIMITS.maxDrainMs}`).optional(),
}) satisfies z.ZodType<MaintenanceRequest>;

const WRITE = { config: { access: 'register', rateLimit: WRITE_RATE_LIMIT } } as const;

export function maintenanceRoutes(registry: RegistryApi) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    // JSON only, as the rest of /v1.
    app.removeContentTypeParser('text/plain');
    const host = (): MaintenanceHost => registry.maintenance ?? unsupported();

    app.put('/instances/:id/maintenance', WRITE, async (request) => {
      const { id } = parseOrThrow(idParams, request.params, 'path');
      const body = parseOrThrow(maintenanceBody, request.body ?? {}, 'body');
      const record = host().startInstance(id, body, callerOf(request));
      // Answered only once stored: a registry restarted after the answer still holds it.
      await registry.persisted();
      return { instance: toView(record) };
    });

    app.delete('/instances/:id/maintenance', WRITE, async (request) => {
      const { id } = parseOrThrow(idParams, request.params, 'path');
      const record = host().endInstance(id, callerOf(request));
      await registry.persisted();
      return { instance: toView(record) };
    });

    app.put('/services/:name/maintenance', WRITE, async (request) => {
      const { name } = parseOrThrow(nameParams, request.params, 'path');
      checkServiceAccess(request, name);
      const body = parseOrThrow(maintenanceBody, request.body ?? {}, 'body');
      const entry = host().startService(name, body, callerOf(request));
      await registry.persisted();
      return serviceAnswer(registry, name, entry);
    });

    app.delete('/services/:name/maintenance', WRITE, async (request) => {
      const { name } = parseOrThrow(nameParams, request.params, 'path');
      checkServiceAccess(request, name);
      host().endService(name);
      await registry.persisted();
      return serviceAnswer(registry, name, null);
    });
  };
}

/** The service's maintenance and its instances as they are now. */
function serviceAnswer(registry: RegistryApi, name: string, entry: unknown) {
  const instances = registry.instances().filter((record) => record.service === name);
  return { service: name, maintenance: entry, instances: instances.map(toView) };
}

function checkServiceAccess(request: FastifyRequest, service: string): void {
  const principal = request.principal ?? null;
  if (!principal || isAdmin(principal) || principal.services?.includes(service)) return;
  const which = principal.services === null ? 'any service' : principal.services.join(', ');
  throw forbidden(`maintenance of a whole service needs an admin token or one limited to that service; token "${principal.name}" is for ${which}, not "${service}" alone`);
}

function unsupported(): never {
  throw internal('this registry does not support maintenance');
}
