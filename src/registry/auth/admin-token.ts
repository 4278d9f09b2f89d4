// The admin token a registry makes for itself on first start: 32 random bytes, base64url, in
// <data-dir>/admin.token (mode 0600, folder 0700). There is no built-in secret anywhere.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidConfigFile, type RosterError } from '../../protocol/errors.js';
import { MIN_SECRET_LENGTH } from './tokens-file.js';

export const ADMIN_TOKEN_FILE = 'admin.token';

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export interface AdminTokenFile {
  path: string;
  secret: string;
  created: boolean;
  /** True when others than the owner may read the file: worth a warning. */
  exposed: boolean;
}

/** Reads <dataDir>/admin.token, creating it (and the folder) when missing. */
export async function ensureAdminTokenFile(dataDir: string): Promise<AdminTokenFile> {
  const path = join(dataDir, ADMIN_TOKEN_FILE);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const secret = newSecret();
  try {
    // 'wx': never overwrite a token a concurrent start has just written.
    await writeFile(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return { path, secret, created: true, exposed: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw unusable(path, error);
  }
  return readAdminTokenFile(path);
}

async function readAdminTokenFile(path: string): Promise<AdminTokenFile> {
  let text: string;
  let mode: number;
  try {
    [text, mode] = await Promise.all([readFile(path, 'utf8'), stat(path).then((s) => s.mode)]);
  } catch (error) {
    throw unusable(path, error);
  }
  const secret = text.trim();
  if (secret.length < MIN_SECRET_LENGTH || /\s/.test(secret)) {
    throw invalidConfigFile(`admin token file ${path} must hold one secret of at least ${MIN_SECRET_LENGTH} characters; delete it to have a new one made`);
  }
  return { path, secret, created: false, exposed: (mode & 0o077) !== 0 };
}

function unusable(path: string, error: unknown): RosterError {
  return invalidConfigFile(`cannot use the admin token file ${path} (${(error as Error).message}); check --data-dir`, error);
}
