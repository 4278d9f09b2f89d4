// What the stores persist, as schemas: a row is parsed when it is loaded, and one that does not
// read back as what was written refuses the load with a message naming the store, the row's key
// and what is wrong. Skipping it would lose an instance, or a patch, without a word.
import { z } from 'zod';
import { storeDamaged, type RosterError } from '../../protocol/errors.js';
import { describeIssue } from '../../protocol/validation.js';
import { instanceViewSchema } from '../../protocol/watch.js';
import type { InstanceRecord } from '../catalog.js';
import type { OutboxEntry, ServiceMaintenanceEntry } from './store.js';

const epochMs = z.number().finite();
const revision = z.int().min(0);

/** Derived from the view's schema, as InstanceRecord is from InstanceView. */
const instanceRecordSchema = instanceViewSchema
  .omit({ registeredAt: true, lastCheckAt: true, criticalSince: true, owner: true })
  .extend({
    registeredAt: epochMs,
    lastCheckAt: epochMs.nullable(),
    criticalSince: epochMs.nullable(),
    // Records written before ownership and signing existed have neither.
    owner: z.string().nullable().default(null),
    signingKey: z.string().nullable().default(null),
    // Records written before session liveness existed were all probed.
    liveness: z.enum(['probe', 'session']).default('probe'),
  }) satisfies z.ZodType<InstanceRecord>;

const patchEntries = z.array(z.object({ Name: z.string(), URL: z.string() }));

const outboxEntrySchema = z.object({
  target: z.string(),
  revision,
  prevRevision: revision,
  added: patchEntries,
  removed: patchEntries,
}) satisfies z.ZodType<OutboxEntry>;

const serviceMaintenanceSchema = z.object({
  service: z.string(),
  reason: z.string(),
  since: z.iso.datetime(),
  by: z.string().nullable(),
  drainMs: z.int().min(0).nullable(),
}) satisfies z.ZodType<ServiceMaintenanceEntry>;

/** Where a row was read: the store's description and the row's key in it. */
export interface RowSource {
  store: string;
  key: string;
  /** Makes the refusal: a store that knows its file says which and how to recover. Default storeDamaged. */
  refuse?: (key: string, problem: string) => RosterError;
}

export function parseInstanceRow(value: unknown, source: RowSource): InstanceRecord {
  return parseRow(instanceRecordSchema, value, source, 'instance record');
}

/** The registry revision, stored as its decimal text (which reads back as a JSON number). */
export function parseRevisionRow(value: unknown, source: RowSource): number {
  return parseRow(revision, value, source, 'revision');
}

export function parseOutboxRow(value: unknown, source: RowSource): OutboxEntry {
  return parseRow(outboxEntrySchema, value, source, 'queued patch');
}

export function parseServiceMaintenanceRow(value: unknown, source: RowSource): ServiceMaintenanceEntry {
  return parseRow(serviceMaintenanceSchema, value, source, 'service maintenance');
}

/** JSON.parse, refusing text that is not JSON as a damaged row. */
export function parseRowJson(text: string, source: RowSource): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw refusal(source, `not JSON (${(error as Error).message})`);
  }
}

function parseRow<T extends z.ZodType>(schema: T, value: unknown, source: RowSource, what: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw refusal(source, describeIssue(what, result.error.issues[0]));
}

function refusal(source: RowSource, problem: string): RosterError {
  return source.refuse ? source.refuse(source.key, problem) : storeDamaged(source.store, source.key, problem);
}
