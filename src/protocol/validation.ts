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
  /** An instance's weight: 0 keeps it registered but never picked. */
  maxWeight: 1000,
  metadataKeys: 32,
  metadataBytes: 4096,
  patchEntries: 10_000,
  minTtlMs: 1_000,
  maxTtlMs: 3_600_000,
  bodyBytes: 256 * 1024,
} as const;

const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9._-]*$/;

/** C0 and C1 controls (NUL, tab, line breaks, ESC, …), DEL, and the Unicode line and paragraph separators. */
export const CONTROL_CHARACTER = /[\p{Cc}\u2028\u2029]/u;

export const NO_CONTROL_CHARACTERS = 'must not contain control characters (such as NUL, ESC, a line break or a tab)';

export function hasControlCharacter(text: string): boolean {
  return CONTROL_CHARACTER.test(text);
}

/** Text that a log line or a terminal shows as it is: no control characters. */
const plainText = z.string().refine((text) => !hasControlCharacter(text), NO_CONTROL_CHARACTERS);

export const serviceName = z
  .string()
  .min(1, 'must not be empty')
  .max(LIMITS.nameLength, `must be at most ${LIMITS.nameLength} characters`)
  .regex(NAME_PATTERN, 'must start with a letter and hold only letters, digits, ".", "_" and "-"');

// The URL parser drops tabs and line breaks and percent-encodes ESC, but the text as sent is what
// is stored and shown: a URL holding control characters is refused before it is parsed.
export const httpUrl = z
  .string()
  .max(LIMITS.urlLength, `must be at most ${LIMITS.urlLength} characters`)
  .refine((text) => !hasControlCharacter(text), { message: NO_CONTROL_CHARACTERS, abort: true })
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

/** A tag or a zone: 1 to 64 characters, no control characters. */
const routingName = plainText.min(1, 'must not be empty').max(LIMITS.tagLength, `must be at most ${LIMITS.tagLength} characters`);

const aWeight = `must be a whole number from 0 to ${LIMITS.maxWeight}`;
const instanceWeight = z.int({ error: aWeight }).min(0, aWeight).max(LIMITS.maxWeight, aWeight);

/** The weight of an instance that gives none. */
export const DEFAULT_WEIGHT = 100;

const metadata = z
  .object({
    version: plainText.max(LIMITS.tagLength).optional(),
    tags: z.array(routingName).max(LIMITS.tags).optional(),
    weight: instanceWeight.optional(),
    zone: routingName.optional(),
  })
  .catchall(z.unknown())
  .superRefine(refuseControlCharacters)
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
    liveness: z.enum(['probe', 'session'], { error: "must be 'probe' or 'session'" }).optional(),
    metadata: metadata.optional(),
  })
  .strict()
  .refine((body) => body.liveness !== 'session' || (!body.heartbeatUrl && !body.ttlMs), {
    message: "liveness 'session' takes neither heartbeatUrl nor ttlMs: the session stream tells the registry the instance is alive",
    path: ['liveness'],
  })
  .refine((body) => !(body.heartbeatUrl && body.ttlMs), {
    message: 'give either heartbeatUrl (the registry probes it) or ttlMs (the instance renews itself), not both',
    path: ['ttlMs'],
  });

/** Go's "" for an unset URL, or a URL; one schema (not a union) so a refusal says what is wrong. */
const emptyOrHttpUrl = z
  .string()
  .max(LIMITS.urlLength, `must be at most ${LIMITS.urlLength} characters`)
  .refine((text) => !hasControlCharacter(text), { message: NO_CONTROL_CHARACTERS, abort: true })
  .refine((text) => text === '' || isHttpUrl(text), 'must be empty or an absolute http:// or https:// URL');

/** The course's registration. Go sends `null` for a nil slice and "" for an unset URL. */
export const courseRegistrationSchema = z.object({
  ServiceName: serviceName,
  ServiceURL: httpUrl,
  RequiredServices: requiredServices.nullish().transform((names) => names ?? []),
  ServiceUpdateURL: emptyOrHttpUrl.nullish(),
  HeartbeatURL: emptyOrHttpUrl.nullish(),
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

/** Every key and every string value, however deep, free of control characters; the issue's path names the first. */
function refuseControlCharacters(value: unknown, context: z.RefinementCtx): void {
  const found = findControlCharacter(value, []);
  if (found) context.addIssue({ code: 'custom', ...found });
}

function findControlCharacter(value: unknown, path: PropertyKey[]): { path: PropertyKey[]; message: string } | null {
  if (typeof value === 'string') return hasControlCharacter(value) ? { path, message: NO_CONTROL_CHARACTERS } : null;
  if (typeof value !== 'object' || value === null) return null;
  for (const [key, inner] of Object.entries(value)) {
    if (hasControlCharacter(key)) return { path, message: `key ${JSON.stringify(key)} ${NO_CONTROL_CHARACTERS}` };
    const found = findControlCharacter(inner, [...path, Array.isArray(value) ? Number(key) : key]);
    if (found) return found;
  }
  return null;
}

/** True for a name a service may have (a letter, then letters, digits, ".", "_" or "-"). */
export function isValidServiceName(value: unknown): value is string {
  return serviceName.safeParse(value).success;
}

/** True for an absolute http:// or https:// URL that Roster takes (length, no control characters). */
export function isValidHttpUrl(value: unknown): value is string {
  return httpUrl.safeParse(value).success;
}

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
