// Admission of new instances: the catalog's bounds in total, per service and per credential.
// Checked by the registry core before anything changes, so a refusal leaves the state as it was,
// whichever protocol (course, /v1) or node (cluster mode forwards writes to the leader's core)
// the registration came through.
import { limitReached } from '../protocol/errors.js';
import type { Catalog, Registration } from './catalog.js';
import type { LimitName, LimitRejections, RegistryLimits } from './limits.js';

/**
 * Refuses with LIMIT_REACHED (and counts it) a registration that would add an instance beyond
 * a bound. Re-registering a URL already in the catalog under the same service and owner adds
 * nothing and always passes; one that moves it to another service or owner is counted against
 * the new service's or owner's bound (the total does not change).
 */
export function admitInstance(catalog: Catalog, registration: Registration, limits: RegistryLimits, rejections: LimitRejections): void {
  const existing = catalog.getByUrl(registration.url);
  if (existing && existing.service === registration.service && existing.owner === registration.owner) return;
  const full = reachedLimit(catalog, registration, limits, existing);
  if (!full) return;
  rejections.count(full.limit);
  throw limitReached(full.limit, limits[full.limit], `cannot register ${registration.url}: ${full.what}`);
}

type Holder = Pick<Registration, 'service' | 'owner'>;

function reachedLimit(catalog: Catalog, { service, owner }: Registration, limits: RegistryLimits, existing: Holder | undefined): { limit: LimitName; what: string } | undefined {
  if (!existing && catalog.size >= limits.maxInstances) {
    return { limit: 'maxInstances', what: `the registry holds ${catalog.size} instances` };
  }
  const ofService = catalog.countOfService(service);
  if (existing?.service !== service && ofService >= limits.maxInstancesPerService) {
    return { limit: 'maxInstancesPerService', what: `service "${service}" has ${ofService} instances` };
  }
  // Without authentication there is no credential to count by (owner null).
  const owned = owner === null ? 0 : catalog.countOwnedBy(owner);
  if (owner !== null && existing?.owner !== owner && owned >= limits.maxInstancesPerCredential) {
    return { limit: 'maxInstancesPerCredential', what: `credential "${owner}" has registered ${owned} instances` };
  }
  return undefined;
}
