// What a registry keeps across restarts, behind a small interface. The registry stages its
// changes and hands them over in batches, one write at a time (see batch-writer.ts), so a
// store pays one transaction for many registrations.
import type { PatchEntry } from '../../protocol/course.js';
import { storeClosed, type RosterError } from '../../protocol/errors.js';
import type { InstanceRecord } from '../catalog.js';

/** A patch accepted for delivery and not yet delivered. */
export interface OutboxEntry {
  target: string;
  revision: number;
  prevRevision: number;
  added: PatchEntry[];
  removed: PatchEntry[];
}

/** A whole service in maintenance: it applies to every instance of the service, present and future. */
export interface ServiceMaintenanceEntry {
  service: string;
  reason: string;
  /** ISO time it began. */
  since: string;
  by: string | null;
  drainMs: number | null;
}

/** Everything a store holds: what a restarted registry resumes from. */
export interface StoreSnapshot {
  /** The last revision handed out; the next change gets a higher one. */
  revision: number;
  instances: InstanceRecord[];
  /** Undelivered patches, oldest first. */
  outbox: OutboxEntry[];
  /** Services in maintenance; absent from a store that holds none. */
  serviceMaintenance?: ServiceMaintenanceEntry[];
}

/** Changes to write together, atomically: inserts and updates first, then removals. */
export interface StoreBatch {
  revision: number;
  upserts: InstanceRecord[];
  deletes: string[];
  enqueued: OutboxEntry[];
  /** Patches that no longer need delivering: delivered, or dropped with their subscriber. */
  done: Array<{ target: string; revision: number }>;
  /** Services put in maintenance (the entry) or out of it (null). */
  serviceMaintenance?: Array<{ service: string; entry: ServiceMaintenanceEntry | null }>;
}

/**
 * A store copies what it is given and what it gives back: a record written and then changed
 * by the catalog, or loaded and then changed by the caller, stays as it was in the store.
 */
export interface RegistryStore {
  /** A name for logs and errors: "memory", "sqlite:/path". */
  readonly description: string;
  /** True once close() was called. */
  readonly closed: boolean;
  /** Refused with closedStoreError() after close(). */
  load(): Promise<StoreSnapshot>;
  /** Resolves once the batch is durable (as durable as the store promises); refused after close(). */
  write(batch: StoreBatch): Promise<void>;
  /** Idempotent: every call resolves once the store has let go of what it holds. */
  close(): Promise<void>;
}

/** What every store refuses a load or a write with after close(): one error, whichever the store. */
export function closedStoreError(): RosterError {
  return storeClosed('the registry store');
}

export function emptyBatch(): StoreBatch {
  return { revision: 0, upserts: [], deletes: [], enqueued: [], done: [] };
}

export function isEmptyBatch(batch: StoreBatch): boolean {
  return batch.upserts.length + batch.deletes.length + batch.enqueued.length + batch.done.length + (batch.serviceMaintenance?.length ?? 0) === 0;
}
