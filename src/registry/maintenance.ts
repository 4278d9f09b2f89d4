// Maintenance: an instance, or a whole service, taken out of rotation by its owner or an admin.
// Dependents are told `Removed` at once, or once a drain time has passed; the instance stays
// registered and probed, and comes back (if passing) when maintenance ends. The state is kept
// on the instance record (so it survives restarts and re-registration) and, for a service, in
// an entry of its own that also applies to instances registered later.
import { instanceNotFound } from '../protocol/errors.js';
import type { PatchEntry } from '../protocol/course.js';
import type { InstanceMaintenance, MaintenanceRequest } from '../protocol/v1.js';
import type { Clock, TimerHandle } from '../shared/clock.js';
import { inRotation, type Catalog, type InstanceRecord } from './catalog.js';
import type { Caller, RegistryChange } from './registry-api.js';
import type { BatchWriter } from './store/batch-writer.js';
import type { ServiceMaintenanceEntry } from './store/store.js';

/** What the maintenance routes need of a registry (RegistryApi.maintenance). */
export interface MaintenanceHost {
  /** INSTANCE_NOT_FOUND, or NOT_OWNER for a caller that neither owns it nor is an admin. */
  startInstance(id: string, request: MaintenanceRequest, caller?: Caller): InstanceRecord;
  /** Ends the instance's own maintenance; it stays in maintenance while its service is. */
  endInstance(id: string, caller?: Caller): InstanceRecord;
  /** The caller's right to act on the whole service is checked by the route. */
  startService(service: string, request: MaintenanceRequest, caller?: Caller): ServiceMaintenanceEntry;
  /** Returns the entry that ended, or null when the service was not in maintenance. */
  endService(service: string): ServiceMaintenanceEntry | null;
  /** Services in maintenance. */
  services(): ServiceMaintenanceEntry[];
}

export interface MaintenanceInit {
  catalog: Catalog;
  clock: Clock;
  writer: BatchWriter | undefined;
  /** Tells the dependents of `service`, as the registry does for a health change. */
  notify: (service: string, added: PatchEntry[], removed: PatchEntry[], revision: number) => void;
  emit: (change: RegistryChange) => void;
  /** The ownership rule of deregistration (NOT_OWNER). */
  assertMayChange: (record: InstanceRecord, caller: Caller | undefined) => void;
}

export class MaintenanceBook implements MaintenanceHost {
  readonly #init: MaintenanceInit;
  readonly #services = new Map<string, ServiceMaintenanceEntry>();
  /** Instance id → the timer that ends its drain. */
  readonly #drains = new Map<string, TimerHandle>();

  constructor(init: MaintenanceInit) {
    this.#init = init;
  }

  /** After a restart: service entries come back, and drains go on for the time they had left. */
  restore(entries: readonly ServiceMaintenanceEntry[], records: readonly InstanceRecord[]): void {
    for (const entry of entries) this.#services.set(entry.service, entry);
    for (const record of records) {
      if (record.maintenance?.draining) this.#scheduleDrain(record.id, record.maintenance);
    }
  }

  startInstance(id: string, request: MaintenanceRequest, caller?: Caller): InstanceRecord {
    const record = this.#owned(id, caller);
    this.#apply(record, this.#entry(request, caller?.name ?? null, 'instance'));
    return record;
  }

  endInstance(id: string, caller?: Caller): InstanceRecord {
    const record = this.#owned(id, caller);
    if (record.maintenance?.scope !== 'instance') return record;
    this.#apply(record, this.#fromService(record.service));
    return record;
  }

  startService(service: string, request: MaintenanceRequest, caller?: Caller): ServiceMaintenanceEntry {
    const since = new Date(this.#init.clock.now()).toISOString();
    const entry: ServiceMaintenanceEntry = { service, reason: request.reason, since, by: caller?.name ?? null, drainMs: request.drainMs ?? null };
    this.#services.set(service, entry);
    this.#init.writer?.serviceMaintenance(service, entry);
    const maintenance = this.#entry(request, entry.by, 'service');
    // An instance in maintenance of its own keeps it: its reason is the more specific one.
    for (const record of this.#init.catalog.ofService(service)) {
      if (record.maintenance?.scope !== 'instance') this.#apply(record, maintenance);
    }
    return entry;
  }

  endService(service: string): ServiceMaintenanceEntry | null {
    const entry = this.#services.get(service) ?? null;
    if (!entry) return null;
    this.#services.delete(service);
    this.#init.writer?.serviceMaintenance(service, null);
    for (const record of this.#init.catalog.ofService(service)) {
      if (record.maintenance?.scope === 'service') this.#apply(record, null);
    }
    return entry;
  }

  services(): ServiceMaintenanceEntry[] {
    return [...this.#services.values()];
  }

  /**
   * A registration just stored `record` (its own maintenance carried over by the catalog): it
   * joins its service's maintenance, or leaves one it held for a service it no longer belongs to.
   * Called before dependents hear of the registration, so they never see it in rotation.
   */
  registered(record: InstanceRecord): void {
    const current = record.maintenance ?? null;
    if (current?.scope === 'instance') return;
    const wanted = this.#fromService(record.service);
    if (current === null && wanted === null) return;
    // Draining state is kept for a re-registration of an instance that is already draining.
    record.maintenance = current !== null && wanted !== null ? current : wanted;
    if (record.maintenance === null) this.#cancelDrain(record.id);
  }

  /** The instance is gone: its drain has nothing left to end. */
  forget(id: string): void {
    this.#cancelDrain(id);
  }

  /** How many instances are in maintenance (for /metrics). */
  count(): number {
    return this.#init.catalog.list().filter((record) => record.maintenance).length;
  }

  close(): void {
    for (const id of [...this.#drains.keys()]) this.#cancelDrain(id);
  }

  #owned(id: string, caller: Caller | undefined): InstanceRecord {
    const record = this.#init.catalog.get(id);
    if (!record) throw instanceNotFound(id);
    this.#init.assertMayChange(record, caller);
    return record;
  }

  #entry(request: MaintenanceRequest, by: string | null, scope: InstanceMaintenance['scope']): InstanceMaintenance {
    const now = this.#init.clock.now();
    const drainMs = request.drainMs ?? 0;
    const drainUntil = drainMs > 0 ? new Date(now + drainMs).toISOString() : null;
    return { reason: request.reason, since: new Date(now).toISOString(), by, scope, drainUntil, draining: drainUntil !== null };
  }

  /** What a new (or released) instance of `service` gets: the service's maintenance, never a drain. */
  #fromService(service: string): InstanceMaintenance | null {
    const entry = this.#services.get(service);
    if (!entry) return null;
    return { reason: entry.reason, since: entry.since, by: entry.by, scope: 'service', drainUntil: null, draining: false };
  }

  /** Moves `record` to `next`, telling dependents when it leaves or joins their view. */
  #apply(record: InstanceRecord, next: InstanceMaintenance | null): void {
    const { catalog, writer, notify, emit } = this.#init;
    const wasVisible = inRotation(record);
    this.#cancelDrain(record.id);
    catalog.setMaintenance(record.id, next);
    writer?.upsert(record);
    const visible = inRotation(record);
    const entries = [{ Name: record.service, URL: record.url }];
    if (wasVisible && !visible) notify(record.service, [], entries, record.revision);
    if (!wasVisible && visible) notify(record.service, entries, [], record.revision);
    if (next?.draining) this.#scheduleDrain(record.id, next);
    emit({ type: record.health, revision: record.revision, instance: record });
  }

  #scheduleDrain(id: string, maintenance: InstanceMaintenance): void {
    const { clock } = this.#init;
    const waitMs = Math.max(0, Date.parse(maintenance.drainUntil ?? '') - clock.now() || 0);
    this.#drains.set(id, clock.setTimeout(() => this.#drained(id), waitMs));
  }

  #drained(id: string): void {
    this.#drains.delete(id);
    const record = this.#init.catalog.get(id);
    if (!record?.maintenance?.draining) return;
    this.#apply(record, { ...record.maintenance, draining: false });
  }

  #cancelDrain(id: string): void {
    const timer = this.#drains.get(id);
    if (timer === undefined) return;
    this.#init.clock.clearTimeout(timer);
    this.#drains.delete(id);
  }
}
