// Everything a starting registry needs to know about trust, checked before anything opens:
// its tokens (admin.token, ROSTER_ADMIN_TOKEN, the tokens file), the course API's rules and
// its TLS files. Every message names the option to change.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkOption, invalidArgument, unreadableFile } from '../../protocol/errors.js';
import type { Logger } from '../../shared/logger.js';
import { courseOptionsOf, type RegistryCourseOptions } from '../http/course-options.js';
import type { RegistryServerOptions } from '../http/server.js';
import { ensureAdminTokenFile, newSecret } from './admin-token.js';
import { Credentials } from './credentials.js';
import { MIN_SECRET_LENGTH } from './tokens-file.js';

export interface RegistryAuthOptions {
  /** Turns authentication off: anyone who reaches the registry may do anything. Logged at every start. */
  insecure?: boolean;
  /** The tokens file; default <dataDir>/tokens.json when there is a data folder. */
  tokensFile?: string;
  /** The admin secret to use instead of <dataDir>/admin.token (no file is written then). */
  adminToken?: string;
}

export interface RegistryTlsOptions {
  /** PEM certificate (chain) file: with `key`, the registry serves HTTPS. */
  cert?: string;
  /** PEM private key file of `cert`. */
  key?: string;
  /** PEM CA bundle file trusted for outbound HTTPS (default: env ROSTER_TLS_CA). */
  ca?: string;
}

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
  const auth = input.auth ?? {};
  checkAuthOptions(auth);
  const interval = input.tokensWatchIntervalMs;
  checkOption(interval === undefined || (Number.isInteger(interval) && interval >= 10), 'tokensWatchIntervalMs', 'a whole number of milliseconds ≥ 10');
  const https = await loadServerTls(input.tls ?? {});
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

function checkAuthOptions(auth: RegistryAuthOptions): void {
  checkOption(typeof auth === 'object' && auth !== null, 'auth', 'an object');
  checkOption(auth.insecure === undefined || typeof auth.insecure === 'boolean', 'auth.insecure', 'true or false');
  checkOption(auth.tokensFile === undefined || (typeof auth.tokensFile === 'string' && auth.tokensFile.length > 0), 'auth.tokensFile', 'the path of a tokens file');
  checkOption(auth.adminToken === undefined || isSecret(auth.adminToken), 'auth.adminToken', `a secret of at least ${MIN_SECRET_LENGTH} characters without spaces`);
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
  checkOption(typeof tls === 'object' && tls !== null, 'tls', 'an object');
  for (const name of ['cert', 'key', 'ca'] as const) {
    checkOption(tls[name] === undefined || (typeof tls[name] === 'string' && tls[name].length > 0), `tls.${name}`, 'the path of a PEM file');
  }
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
