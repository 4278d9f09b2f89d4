// The events of GET /v1/watch (Server-Sent Events, docs/api.md): their types and the schemas a
// watcher parses them through. The registry writes them, the client reads them: one definition.
import { z } from 'zod';
import { registryError, type RosterError } from './errors.js';
import type { InstanceView } from './v1.js';
import { describeIssue } from './validation.js';

export const WATCH_CHANGE_TYPES = ['registered', 'deregistered', 'passing', 'critical'] as const;

export type WatchChangeType = (typeof WATCH_CHANGE_TYPES)[number];

/** The `snapshot` event: the whole (filtered) catalog as of `revision`. */
export interface WatchSnapshot {
  revision: number;
  instances: InstanceView[];
}

/** The `change` event: one instance right after one change. */
export interface WatchChange {
  revision: number;
  type: WatchChangeType;
  instance: InstanceView;
}

/** An event as the stream frames it: its SSE `event:` name and its `data:`. */
export type WatchEvent = { event: 'snapshot'; data: WatchSnapshot } | { event: 'change'; data: WatchChange };

const revision = z.int().min(0);
const isoTime = z.iso.datetime();

const instanceMetadataSchema = z
  .object({ version: z.string().optional(), tags: z.array(z.string()).optional() })
  .catchall(z.unknown());

/** An instance as the registry reports it; typed against InstanceView so that the two stay one. */
export const instanceViewSchema = z.object({
  id: z.string(),
  service: z.string(),
  url: z.string(),
  requires: z.array(z.string()),
  updateUrl: z.string().nullable(),
  heartbeatUrl: z.string().nullable(),
  ttlMs: z.number().nullable(),
  // A registry older than session liveness sends none: its instances are all probed.
  liveness: z.enum(['probe', 'session']).default('probe'),
  metadata: instanceMetadataSchema,
  health: z.enum(['passing', 'critical']),
  protocol: z.enum(['course', 'v1']),
  owner: z.string().nullable(),
  registeredAt: isoTime,
  revision,
  lastCheckAt: isoTime.nullable(),
  lastCheckMs: z.number().nullable(),
  lastError: z.string().nullable(),
  criticalSince: isoTime.nullable(),
  // A registry older than maintenance sends none.
  maintenance: z
    .object({
      reason: z.string(),
      since: isoTime,
      by: z.string().nullable(),
      scope: z.enum(['instance', 'service']),
      drainUntil: isoTime.nullable(),
      draining: z.boolean(),
    })
    .nullable()
    .default(null),
}) satisfies z.ZodType<InstanceView>;

export const watchSnapshotSchema = z.object({ revision, instances: z.array(instanceViewSchema) }) satisfies z.ZodType<WatchSnapshot>;

export const watchChangeSchema = z.object({
  revision,
  type: z.enum(WATCH_CHANGE_TYPES),
  instance: instanceViewSchema,
}) satisfies z.ZodType<WatchChange>;

/**
 * Parses one event of the stream: null for an event type this version does not know (newer
 * registries may send more); REGISTRY_ERROR naming the event and the bad field for a malformed one.
 */
export function parseWatchEvent(event: string, data: string): WatchEvent | null {
  if (event === 'snapshot') return { event, data: parseData(watchSnapshotSchema, event, data) };
  if (event === 'change') return { event, data: parseData(watchChangeSchema, event, data) };
  return null;
}

function parseData<T extends z.ZodType>(schema: T, event: string, data: string): z.output<T> {
  const json = parseJson(data);
  if (json === NOT_JSON) throw malformed(`an invalid "${event}" event: its data is not JSON`);
  const result = schema.safeParse(json);
  if (result.success) return result.data;
  throw malformed(`an ${describeIssue(`"${event}" event`, result.error.issues[0])}`);
}

function malformed(what: string): RosterError {
  return registryError(`the watch stream sent ${what} (is this a Roster registry?)`);
}

const NOT_JSON = Symbol('not JSON');

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return NOT_JSON;
  }
}
