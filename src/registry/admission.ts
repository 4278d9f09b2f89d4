// Admission of new instances: the catalog's bounds in total, per service and per credential.
// Checked by the registry core before anything changes, so a refusal leaves the state as it was,
// whichever protocol (course, /v1) or node (cluster mode forwards writes to the leader's core)
// the registration came through.
import { limitReached } from '../protocol/errors.js';
import type { Catalog, Registration } from './catalog.js';
import type { LimitName, LimitRejections, RegistryLimits } from './limits.js';

/**
 * Refuses with LIMIT_REACHED (and counts it) a registration that would add an instance beyond
 * a bound. Re-registering a URL already in the catalog adds nothing and always passes.
 */
export function admitInstance(catalog: Catalog, registration: Registration, limits: RegistryLimits, rejections: LimitRejections): void {
  if (catalog.getByUrl(registration.url)) return;
  const full = reachedLimit(catalog, registration, limits);
  if (!full) return;
  rejections.count(full.limit);
  throw limitReached(full.limit, limits[full.limit], `cannot register ${registration.url}: ${full.what}`);
}

function reachedLimit(catalog: Catalog, { service, owner }: Registration, limits: RegistryLimits): { limit: LimitName; what: string } | undefined {
  if (catalog.size >= limits.maxInstances) {
    return { limit: 'maxInstances', what: `the registry holds ${catalog.size} instances` };
  }
  const ofService = catalog.countOfService(service);
  if (ofService >= limits.maxInstancesPerService) {
    return { limit: 'maxInstancesPerService', what: `service "${service}" has ${ofService} instances` };
  }
  // Without authentication there is no credential to count by (owner null).
  const owned = owner === null ? 0 : catalog.countOwnedBy(owner);
  if (owner !== null && owned >= limits.maxInstancesPerCredential) {
    return { limit: 'maxInstancesPerCredential', what: `credential "${owner}" has registered ${owned} instances` };
  }
  return undefined;
}
