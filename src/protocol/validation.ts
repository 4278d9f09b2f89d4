// Schemas for everything that crosses the wire, with the limits that keep the catalog sane.
import { z } from 'zod';
import { invalidRequest } from './errors.js';
import type { CourseRegistration, Patch } from './course.js';
import type { RegisterRequest } from './v1.js';

export const LIMITS = {
  nameLength: 64,
  urlLength: 2048,
  requires: 64,
  tags: 32,
  tagLength: 64,
  metadataKeys: 32,
  metadataBytes: 4096,
  patchEntries: 10_000,
  minTtlMs: 1_000,
  maxTtlMs: 3_600_000,
  bodyBytes: 256 * 1024,
} as const;

const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9._-]*$/;

export const serviceName = z
  .string()
  .min(1, 'must not be empty')
  .max(LIMITS.nameLength, `must be at most ${LIMITS.nameLength} characters`)
  .regex(NAME_PATTERN, 'must start with a letter and hold only letters, digits, ".", "_" and "-"');

export const httpUrl = z
  .string()
  .max(LIMITS.urlLength, `must be at most ${LIMITS.urlLength} characters`)
  .refine(isHttpUrl, 'must be an absolute http:// or https:// URL');

function isHttpUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const { protocol, hostname } = new URL(value);
  return (protocol === 'http:' || protocol === 'https:') && hostname.length > 0;
}

const requiredServices = z
  .array(serviceName)
  .max(LIMITS.requires, `must list at most ${LIMITS.requires} services`)
  .refine((names) => new Set(names).size === names.length, 'must not list a service twice');

const metadata = z
  .object({
    version: z.string().max(LIMITS.tagLength).optional(),
    tags: z.array(z.string().min(1).max(LIMITS.tagLength)).max(LIMITS.tags).optional(),
  })
  .catchall(z.unknown())
  .refine((value) => Object.keys(value).length <= LIMITS.metadataKeys, `must have at most ${LIMITS.metadataKeys} keys`)
  .refine((value) => JSON.stringify(value).length <= LIMITS.metadataBytes, `must be at most ${LIMITS.metadataBytes} bytes as JSON`);

export const registerRequestSchema = z
  .object({
    service: serviceName,
    url: httpUrl,
    requires: requiredServices.optional(),
    updateUrl: httpUrl.optional(),
    heartbeatUrl: httpUrl.optional(),
    ttlMs: z.int().min(LIMITS.minTtlMs).max(LIMITS.maxTtlMs).optional(),
    metadata: metadata.optional(),
  })
  .strict()
  .refine((body) => !(body.heartbeatUrl && body.ttlMs), {
    message: 'give either heartbeatUrl (the registry probes it) or ttlMs (the instance renews itself), not both',
    path: ['ttlMs'],
  });

/** The course's registration. Go sends `null` for a nil slice and "" for an unset URL. */
export const courseRegistrationSchema = z.object({
  ServiceName: serviceName,
  ServiceURL: httpUrl,
  RequiredServices: requiredServices.nullish().transform((names) => names ?? []),
  ServiceUpdateURL: z.union([z.literal(''), httpUrl]).nullish(),
  HeartbeatURL: z.union([z.literal(''), httpUrl]).nullish(),
});

const patchEntry = z.object({ Name: z.string().max(LIMITS.nameLength * 4), URL: z.string().max(LIMITS.urlLength) });
const patchList = z.array(patchEntry).max(LIMITS.patchEntries).nullish().transform((list) => list ?? []);

/** A patch from Roster's registry or the course's: lists may be `null`, Revision may be absent. */
export const patchSchema = z.object({
  Added: patchList,
  Removed: patchList,
  Revision: z.int().min(0).optional(),
  PrevRevision: z.int().min(0).optional(),
});

export function parseRegisterRequest(body: unknown): RegisterRequest {
  return parseOrThrow(registerRequestSchema, body, 'registration') as RegisterRequest;
}

export function parseCourseRegistration(body: unknown): CourseRegistration & { ServiceUpdateURL: string; HeartbeatURL: string } {
  const parsed = parseOrThrow(courseRegistrationSchema, body, 'registration');
  return { ...parsed, ServiceUpdateURL: parsed.ServiceUpdateURL ?? '', HeartbeatURL: parsed.HeartbeatURL ?? '' };
}

export function parsePatch(body: unknown): Patch {
  return parseOrThrow(patchSchema, body, 'patch');
}

/** Validates `value`, or throws INVALID_REQUEST with a message naming the first bad field. */
export function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw invalidRequest(describeIssue(what, result.error.issues[0]));
}

/** "invalid <what>: \"<field>\" <problem>", from the first problem zod found. */
export function describeIssue(what: string, issue: z.core.$ZodIssue | undefined): string {
  if (!issue) return `invalid ${what}`;
  const field = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') return `invalid ${what}: unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  return field ? `invalid ${what}: "${field}" ${issue.message}` : `invalid ${what}: ${issue.message}`;
}
