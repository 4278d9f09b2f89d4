// Everything a starting registry needs to know about trust, checked before anything opens:
// its tokens (admin.token, ROSTER_ADMIN_TOKEN, the tokens file), the course API's rules and
// its TLS files. Every message names the option to change.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { checkOption, invalidArgument, unreadableFile } from '../../protocol/errors.js';
import { durationMs, flag, resolveOptions, text } from '../../shared/options.js';
import type { Logger } from '../../shared/logger.js';
import { courseOptionsOf, type RegistryCourseOptions } from '../http/course-options.js';
import type { RegistryServerOptions } from '../http/server.js';
import { ensureAdminTokenFile, newSecret } from './admin-token.js';
import { Credentials } from './credentials.js';
import { MIN_SECRET_LENGTH } from './tokens-file.js';

const aSecret = `a secret of at least ${MIN_SECRET_LENGTH} characters without spaces`;

/** startRegistry's `auth`. */
export const registryAuthOptionsSchema = z.strictObject({
  /** Turns authentication off: anyone who reaches the registry may do anything. Logged at every start. */
  insecure: flag().optional(),
  /** The tokens file; default <dataDir>/tokens.json when there is a data folder. */
  tokensFile: text('the path of a tokens file').optional(),
  /** The admin secret to use instead of <dataDir>/admin.token (no file is written then). */
  adminToken: z.string({ error: aSecret }).refine(isSecret, { error: aSecret }).optional(),
});

const pemFile = (): z.ZodOptional<z.ZodString> => text('the path of a PEM file').optional();

/** startRegistry's `tls`; that cert and key come together is checked when they are read. */
export const registryTlsOptionsSchema = z.strictObject({
  /** PEM certificate (chain) file: with `key`, the registry serves HTTPS. */
  cert: pemFile(),
  /** PEM private key file of `cert`. */
  key: pemFile(),
  /** PEM CA bundle file trusted for outbound HTTPS (default: env ROSTER_TLS_CA). */
  ca: pemFile(),
});

/** How often the tokens file is checked for changes. */
export const tokensWatchIntervalSchema = durationMs(10);

export type RegistryAuthOptions = z.input<typeof registryAuthOptionsSchema>;
export type RegistryTlsOptions = z.input<typeof registryTlsOptionsSchema>;

const securityOptionsSchema = z.object({
  auth: registryAuthOptionsSchema.prefault({}),
  tls: registryTlsOptionsSchema.prefault({}),
  tokensWatchIntervalMs: tokensWatchIntervalSchema.optional(),
});

export interface SecurityInput {
  auth?: RegistryAuthOptions;
  course?: RegistryCourseOptions;
  tls?: RegistryTlsOptions;
  /** Where admin.token and tokens.json live; null: nowhere to write (the admin token stays in memory). */
  dataDir: string | null;
  /** The environment to read ROSTER_ADMIN_TOKEN from. */
  env: NodeJS.ProcessEnv;
  /** How often the tokens file is checked for changes (tests). */
  tokensWatchIntervalMs?: number;
}

export interface RegistrySecurity {
  /** null with authentication off. */
  credentials: Credentials | null;
  /** The admin secret (named "admin"); null with authentication off. */
  adminToken: string | null;
  scheme: 'http' | 'https';
  /** What buildRegistryServer needs. */
  server: Pick<RegistryServerOptions, 'auth' | 'course' | 'https'>;
}

export async function prepareSecurity(input: SecurityInput, logger: Logger): Promise<RegistrySecurity> {
  const { auth, tls } = resolveOptions(securityOptionsSchema, { auth: input.auth, tls: input.tls, tokensWatchIntervalMs: input.tokensWatchIntervalMs }, { owner: 'startRegistry' });
  const https = await loadServerTls(tls);
  const scheme = https ? 'https' : 'http';
  const course = input.course ?? {};
  courseOptionsOf(course);
  if (auth.insecure) {
    logger.warn({ insecure: true }, 'authentication is OFF (--insecure): anyone who can reach this registry may register, remove and read every instance');
    return { credentials: null, adminToken: null, scheme, server: { auth: { insecure: true }, course, https } };
  }
  const envAdminToken = envSecret(input.env);
  const adminToken = await adminSecret(auth, input.dataDir, logger);
  const tokensFile = auth.tokensFile ?? (input.dataDir === null ? null : join(input.dataDir, 'tokens.json'));
  const credentials = await Credentials.load({ tokensFile, adminToken, envAdminToken, logger, watchIntervalMs: input.tokensWatchIntervalMs });
  if (tokensFile) logger.info({ tokensFile, tokens: credentials.names }, `tokens file: ${tokensFile} (reloaded when it changes)`);
  return { credentials, adminToken, scheme, server: { auth: { authenticator: credentials }, course, https } };
}

function isSecret(value: unknown): value is string {
  return typeof value === 'string' && value.length >= MIN_SECRET_LENGTH && value.length <= 1024 && !/\s/.test(value);
}

function envSecret(env: NodeJS.ProcessEnv): string | null {
  const value = env.ROSTER_ADMIN_TOKEN;
  if (value === undefined || value === '') return null;
  if (!isSecret(value)) throw invalidArgument('ROSTER_ADMIN_TOKEN', `a secret of at least ${MIN_SECRET_LENGTH} characters without spaces`);
  return value;
}

/** The given secret, else <dataDir>/admin.token (made on first start), else one for this run. */
async function adminSecret(auth: RegistryAuthOptions, dataDir: string | null, logger: Logger): Promise<string> {
  if (auth.adminToken) return auth.adminToken;
  if (dataDir === null) {
    logger.info('admin token generated for this run only (no data folder); the embedding program reads it from adminToken');
    return newSecret();
  }
  const file = await ensureAdminTokenFile(dataDir);
  // Where the secret is, never the secret itself.
  logger.info({ adminTokenFile: file.path }, `${file.created ? 'created the admin token' : 'admin token'} in ${file.path}`);
  if (file.exposed) logger.warn({ adminTokenFile: file.path }, `${file.path} may be read by other users: chmod 600 it`);
  return file.secret;
}

async function loadServerTls(tls: RegistryTlsOptions): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if (tls.cert === undefined && tls.key === undefined) return undefined;
  checkOption(tls.cert !== undefined && tls.key !== undefined, tls.cert === undefined ? 'tls.cert' : 'tls.key', 'given too: HTTPS needs both a certificate (--tls-cert) and its key (--tls-key)');
  const [cert, key] = await Promise.all([readPem(tls.cert!, 'tls.cert'), readPem(tls.key!, 'tls.key')]);
  return { cert, key };
}

export async function readPem(path: string, option: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw unreadableFile(option, path, error);
  }
}
