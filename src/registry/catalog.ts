// The catalog: every registered instance and the registry revision.
// It only records; deciding who must hear of a change is the registry's job.
import { instanceId } from '../protocol/ids.js';
import type { Health, InstanceMaintenance, InstanceView, Liveness, ServiceView } from '../protocol/v1.js';

/** The view's fields that a record holds differently: as epoch milliseconds, not ISO text. */
type ViewTimestamps = 'registeredAt' | 'lastCheckAt' | 'criticalSince';

/**
 * An instance as the catalog holds it: the view's fields (so that a field added to the view
 * cannot be forgotten here), its timestamps as numbers, and what the view never shows.
 */
export interface InstanceRecord extends Omit<InstanceView, ViewTimestamps> {
  registeredAt: number;
  lastCheckAt: number | null;
  criticalSince: number | null;
  /** Signs what the registry sends this instance; null for course instances, which cannot check. */
  signingKey: string | null;
}

/** What a registration says, whichever API it came through; `liveness` defaults to 'probe'. */
export type Registration = Pick<
  InstanceRecord,
  'service' | 'url' | 'requires' | 'updateUrl' | 'heartbeatUrl' | 'ttlMs' | 'metadata' | 'protocol' | 'owner'
> & { liveness?: Liveness };

export class Catalog {
  #instances = new Map<string, InstanceRecord>();
  /** service name → ids of its instances */
  #byService = new Map<string, Set<string>>();
  /** service name → ids of the instances that require it */
  #dependents = new Map<string, Set<string>>();
  /** credential name → ids of the instances it registered (the per-credential limit reads it) */
  #byOwner = new Map<string, Set<string>>();
  #revision = 0;

  get revision(): number {
    return this.#revision;
  }

  get size(): number {
    return this.#instances.size;
  }

  get(id: string): InstanceRecord | undefined {
    return this.#instances.get(id);
  }

  getByUrl(url: string): InstanceRecord | undefined {
    return this.#instances.get(instanceId(url));
  }

  list(): InstanceRecord[] {
    return [...this.#instances.values()];
  }

  /** Loads a persisted catalog into this empty one; the revision continues from `revision`. */
  restore(revision: number, records: InstanceRecord[]): void {
    this.#revision = Math.max(this.#revision, revision, ...records.map((record) => record.revision));
    for (const record of records) {
      // Records written before ownership and signing existed have neither.
      record.owner ??= null;
      record.signingKey ??= null;
      // Records written before session liveness existed were all probed.
      record.liveness ??= 'probe';
      this.#instances.set(record.id, record);
      this.#index(record);
    }
  }

  /** Mirrors a record written elsewhere (another registry node), revision and all. */
  put(record: InstanceRecord): InstanceRecord | undefined {
    const previous = this.#instances.get(record.id);
    if (previous) this.#unindex(previous);
    this.#instances.set(record.id, record);
    this.#index(record);
    this.advanceTo(record.revision);
    return previous;
  }

  /** Mirrors a removal made elsewhere; the revision moves through `advanceTo`. */
  delete(id: string): InstanceRecord | undefined {
    const record = this.#instances.get(id);
    if (!record) return undefined;
    this.#instances.delete(id);
    this.#unindex(record);
    return record;
  }

  /** Mirrors the revision counter of another node; it never goes down. */
  advanceTo(revision: number): void {
    this.#revision = Math.max(this.#revision, revision);
  }

  /** Adds or replaces the instance at `registration.url`; a registering instance is passing. */
  upsert(registration: Registration, now: number, signingKey: string | null = null): { record: InstanceRecord; previous: InstanceRecord | undefined } {
    const id = instanceId(registration.url);
    const previous = this.#instances.get(id);
    // Field by field: spreading the validated input costs more on the registration path.
    const record: InstanceRecord = {
      service: registration.service,
      url: registration.url,
      requires: registration.requires,
      updateUrl: registration.updateUrl,
      heartbeatUrl: registration.heartbeatUrl,
      ttlMs: registration.ttlMs,
      liveness: registration.liveness ?? 'probe',
      metadata: registration.metadata,
      protocol: registration.protocol,
      owner: registration.owner,
      signingKey,
      id,
      health: 'passing',
      registeredAt: now,
      revision: this.#bump(),
      lastCheckAt: previous?.lastCheckAt ?? null,
      lastCheckMs: previous?.lastCheckMs ?? null,
      lastError: null,
      criticalSince: null,
      // Registration never ends maintenance: a client re-registering during a deploy stays out.
      maintenance: previous?.maintenance ?? null,
    };
    if (previous) this.#unindex(previous);
    this.#instances.set(id, record);
    this.#index(record);
    return { record, previous: previous && { ...previous } };
  }

  remove(id: string): InstanceRecord | undefined {
    const record = this.#instances.get(id);
    if (!record) return undefined;
    this.#instances.delete(id);
    this.#unindex(record);
    record.revision = this.#bump();
    return record;
  }

  /** Moves an instance to `health`; returns false (and changes nothing) when it is already there. */
  setHealth(id: string, health: Health, now: number, reason: string | null = null): boolean {
    const record = this.#instances.get(id);
    if (!record || record.health === health) return false;
    record.health = health;
    record.criticalSince = health === 'critical' ? now : null;
    record.lastError = reason ?? record.lastError;
    record.revision = this.#bump();
    return true;
  }

  /** Notes a probe's outcome. Not a change of membership, so the revision stays. */
  recordCheck(id: string, at: number, latencyMs: number, error: string | null): void {
    const record = this.#instances.get(id);
    if (!record) return;
    record.lastCheckAt = at;
    record.lastCheckMs = latencyMs;
    record.lastError = error;
  }

  /** Passing instances of `service` that dependents see (not in maintenance, or still draining). */
  passing(service: string): InstanceRecord[] {
    return this.ofService(service).filter(inRotation);
  }

  /** Puts an instance in or out of maintenance (maintenance.ts decides); a change of membership. */
  setMaintenance(id: string, maintenance: InstanceMaintenance | null): InstanceRecord | undefined {
    const record = this.#instances.get(id);
    if (!record) return undefined;
    record.maintenance = maintenance;
    record.revision = this.#bump();
    return record;
  }

  /** Every instance of `service`, whatever its health. */
  ofService(service: string): InstanceRecord[] {
    return this.#records(this.#byService.get(service));
  }

  /** Instances that require `service`: the ones to tell when it changes. */
  dependentsOf(service: string): InstanceRecord[] {
    return this.#records(this.#dependents.get(service));
  }

  /** How many instances `service` has, whatever their health. */
  countOfService(service: string): number {
    return this.#byService.get(service)?.size ?? 0;
  }

  /** How many instances the credential `owner` registered. */
  countOwnedBy(owner: string): number {
    return this.#byOwner.get(owner)?.size ?? 0;
  }

  /** Names of every service that has an instance or is required by one. */
  serviceNames(): string[] {
    return [...new Set([...this.#byService.keys(), ...this.#dependents.keys()])].sort();
  }

  #records(ids: Set<string> | undefined): InstanceRecord[] {
    return ids ? [...ids].map((id) => this.#instances.get(id) as InstanceRecord) : [];
  }

  #index(record: InstanceRecord): void {
    addTo(this.#byService, record.service, record.id);
    if (record.owner) addTo(this.#byOwner, record.owner, record.id);
    for (const name of record.requires) addTo(this.#dependents, name, record.id);
  }

  #unindex(record: InstanceRecord): void {
    removeFrom(this.#byService, record.service, record.id);
    if (record.owner) removeFrom(this.#byOwner, record.owner, record.id);
    for (const name of record.requires) removeFrom(this.#dependents, name, record.id);
  }

  #bump(): number {
    this.#revision += 1;
    return this.#revision;
  }
}

function addTo(index: Map<string, Set<string>>, key: string, id: string): void {
  const ids = index.get(key) ?? new Set<string>();
  ids.add(id);
  index.set(key, ids);
}

function removeFrom(index: Map<string, Set<string>>, key: string, id: string): void {
  const ids = index.get(key);
  ids?.delete(id);
  if (ids?.size === 0) index.delete(key);
}

/** A service as the API shows it: its instances, their health, what it requires and who requires it. */
export function serviceView(catalog: Catalog, name: string): ServiceView {
  const instances = catalog.ofService(name);
  const dependents = catalog.dependentsOf(name);
  return {
    name,
    instances: instances.map(toView),
    passing: instances.filter((i) => i.health === 'passing').length,
    critical: instances.filter((i) => i.health === 'critical').length,
    requires: [...new Set(instances.flatMap((i) => i.requires))].sort(),
    requiredBy: [...new Set(dependents.map((i) => i.service))].sort(),
  };
}

export function toView(record: InstanceRecord): InstanceView {
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: record.id,
    service: record.service,
    url: record.url,
    requires: [...record.requires],
    updateUrl: record.updateUrl,
    heartbeatUrl: record.heartbeatUrl,
    ttlMs: record.ttlMs,
    liveness: record.liveness ?? 'probe',
    metadata: record.metadata,
    health: record.health,
    protocol: record.protocol,
    owner: record.owner ?? null,
    registeredAt: new Date(record.registeredAt).toISOString(),
    revision: record.revision,
    lastCheckAt: iso(record.lastCheckAt),
    lastCheckMs: record.lastCheckMs,
    lastError: record.lastError,
    criticalSince: iso(record.criticalSince),
    maintenance: record.maintenance ? { ...record.maintenance } : null,
  };
}

/** Whether dependents see the instance: passing, and not in maintenance (or still draining). */
export function inRotation(record: Pick<InstanceRecord, 'health' | 'maintenance'>): boolean {
  return record.health === 'passing' && (!record.maintenance || record.maintenance.draining);
}
