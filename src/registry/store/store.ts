// What a registry keeps across restarts, behind a small interface. The registry stages its
// changes and hands them over in batches, one write at a time (see batch-writer.ts), so a
// store pays one transaction for many registrations.
import type { PatchEntry } from '../../protocol/course.js';
import type { InstanceRecord } from '../catalog.js';

/** A patch accepted for delivery and not yet delivered. */
export interface OutboxEntry {
  target: string;
  revision: number;
  prevRevision: number;
  added: PatchEntry[];
  removed: PatchEntry[];
}

/** Everything a store holds: what a restarted registry resumes from. */
export interface StoreSnapshot {
  /** The last revision handed out; the next change gets a higher one. */
  revision: number;
  instances: InstanceRecord[];
  /** Undelivered patches, oldest first. */
  outbox: OutboxEntry[];
}

/** Changes to write together, atomically: inserts and updates first, then removals. */
export interface StoreBatch {
  revision: number;
  upserts: InstanceRecord[];
  deletes: string[];
  enqueued: OutboxEntry[];
  /** Patches that no longer need delivering: delivered, or dropped with their subscriber. */
  done: Array<{ target: string; revision: number }>;
}

export interface RegistryStore {
  /** A name for logs and errors: "memory", "sqlite:/path". */
  readonly description: string;
  load(): Promise<StoreSnapshot>;
  /** Resolves once the batch is durable (as durable as the store promises). */
  write(batch: StoreBatch): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}

export function emptyBatch(): StoreBatch {
  return { revision: 0, upserts: [], deletes: [], enqueued: [], done: [] };
}

export function isEmptyBatch(batch: StoreBatch): boolean {
  return batch.upserts.length + batch.deletes.length + batch.enqueued.length + batch.done.length === 0;
}
