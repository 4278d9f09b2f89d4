// The registry server's own options (watch stream, change log, authentication), as schemas with
// their defaults. Apart from the server so that startRegistry checks them, before anything
// opens, without loading the HTTP framework.
import { z } from 'zod';
import { durationMs, flag, resolveOptions, withMethods } from '../../shared/options.js';
import { changeLogOptionsSchema } from '../change-log.js';
import type { Authenticator } from '../auth/token-set.js';
import { MIN_SECRET_LENGTH, type TokenSpec } from '../auth/tokens-file.js';
import { courseOptionsSchema } from './course-options.js';

/** The watch stream's settings; its clock, limits and rejections are the server's. */
export const watchOptionsSchema = z.strictObject({
  /** Time between keep-alive comments, so that proxies and clients see a live connection. Default 15000. */
  keepAliveMs: durationMs(1).optional(),
});

export type RegistryWatchOptions = z.input<typeof watchOptionsSchema>;

const aSecret = `a secret of at least ${MIN_SECRET_LENGTH} characters without spaces`;

export const serverAuthOptionsSchema = z.strictObject({
  /** Turns authentication off: every route is open to anyone who can reach the registry. */
  insecure: flag().optional(),
  /** Checks bearer tokens, e.g. the Credentials that startRegistry loads (tokens file and admin token). */
  authenticator: withMethods<Authenticator>(['authenticate'], 'an Authenticator (authenticate(secret))').optional(),
  /** The secret of an admin token named "admin". */
  adminToken: z.string({ error: aSecret }).min(MIN_SECRET_LENGTH, { error: aSecret }).regex(/^\S*$/, { error: aSecret }).optional(),
  /** More tokens, stated as in a tokens file (each checked as the tokens file's are). */
  tokens: z.custom<TokenSpec[]>((value) => Array.isArray(value), { error: 'a list of tokens as a tokens file states them' }).optional(),
});

export type RegistryServerAuthOptions = z.input<typeof serverAuthOptionsSchema>;

/**
 * buildRegistryServer's options: its own settings by schema; the collaborators (logger, clock,
 * limits, rejections, https, clusterSecret) by name only, kept as given.
 */
export const serverOptionsSchema = z.strictObject({
  auth: serverAuthOptionsSchema.prefault({}),
  course: courseOptionsSchema.prefault({}),
  watch: watchOptionsSchema.prefault({}),
  changeLog: changeLogOptionsSchema.prefault({}),
  logger: z.unknown().optional(),
  version: z.unknown().optional(),
  https: z.unknown().optional(),
  clusterSecret: z.unknown().optional(),
  clock: z.unknown().optional(),
  limits: z.unknown().optional(),
  rejections: z.unknown().optional(),
});

/** Checks the server's own options (messages name them: `watch.keepAliveMs`) and fills in defaults. */
export function resolveServerOptions(input: object): Readonly<z.output<typeof serverOptionsSchema>> {
  return resolveOptions(serverOptionsSchema, input, { owner: 'buildRegistryServer' });
}
