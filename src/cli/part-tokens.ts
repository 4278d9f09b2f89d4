// The credentials `roster up` gives its parts. Each part's secret lives in its own file beside
// the registry's admin.token (`<data-dir>/log.token`, `grading.token`, `portal.token`, mode 0600),
// so that a part started again by hand (`roster grading`) finds it there with nothing exported;
// the registry's tokens file holds only their SHA-256, so reading it never reveals a secret.
// A restart reuses both; entries of the tokens file that are not ours are kept as they are.
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidConfigFile, unreadableFile } from '../protocol/errors.js';

export interface PartIdentity {
  /** Token name, and the name of its secret's file (`<name>.token`). */
  name: string;
  /** The one service the token may register. */
  service: string;
}

interface TokenEntry {
  name: string;
  sha256?: string;
  secret?: string;
  scopes?: string[];
  services?: string[] | null;
  [key: string]: unknown;
}

/** The shape of the registry's tokens file, kept loose: entries we do not own pass through untouched. */
interface TokensFile {
  tokens: TokenEntry[];
  [key: string]: unknown;
}

export interface PartTokens {
  tokensFile: string;
  /** Secret by token name. */
  secrets: ReadonlyMap<string, string>;
}

/** Generated secrets: 32 random bytes, base64url, as the registry's admin.token. */
const SECRET = /^[A-Za-z0-9_-]{43,}$/;

export function tokenFile(dataDir: string, name: string): string {
  return join(dataDir, `${name}.token`);
}

/** Makes sure every part has a secret on disk and a matching entry in the tokens file. */
export async function ensurePartTokens(dataDir: string, parts: readonly PartIdentity[]): Promise<PartTokens> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const tokensFile = join(dataDir, 'tokens.json');
  const secrets = new Map<string, string>();
  for (const part of parts) secrets.set(part.name, await ensureSecret(tokenFile(dataDir, part.name)));
  const current = await readTokensFile(tokensFile);
  const next = withParts(current ?? { tokens: [] }, parts, secrets);
  if (next !== current) await writePrivate(tokensFile, `${JSON.stringify(next, null, 2)}\n`);
  return { tokensFile, secrets };
}

async function ensureSecret(file: string): Promise<string> {
  const existing = await readFile(file, 'utf8').then((text) => text.trim(), () => undefined);
  if (existing !== undefined && SECRET.test(existing)) {
    await keepPrivate(file);
    return existing;
  }
  const secret = randomBytes(32).toString('base64url');
  await writePrivate(file, `${secret}\n`);
  return secret;
}

/** The parsed file, or undefined when there is none; a file we cannot read as tokens stops us. */
async function readTokensFile(file: string): Promise<TokensFile | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw unreadableFile('--data-dir', file, error, 'a tokens file');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw invalidConfigFile(`the tokens file ${file} is not valid JSON (${(error as Error).message}): fix it, or move it away to have a new one made`, error);
  }
  const tokens = (parsed as { tokens?: unknown } | null)?.tokens;
  if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'object' && t !== null && typeof (t as TokenEntry).name === 'string')) {
    throw invalidConfigFile(`the tokens file ${file} must hold { "tokens": [ { "name": …, "sha256": …, "scopes": […] }, … ] }: fix it, or move it away to have a new one made`);
  }
  await keepPrivate(file);
  return parsed as TokensFile;
}

/** `file` itself when every part's entry already matches its secret, else a new object. */
function withParts(file: TokensFile, parts: readonly PartIdentity[], secrets: ReadonlyMap<string, string>): TokensFile {
  let tokens = file.tokens;
  for (const part of parts) {
    const secret = secrets.get(part.name) as string;
    const index = tokens.findIndex((entry) => entry.name === part.name);
    if (index !== -1 && matches(tokens[index] as TokenEntry, secret)) continue;
    const entry: TokenEntry = { name: part.name, sha256: sha256(secret), scopes: ['register'], services: [part.service] };
    tokens = index === -1 ? [...tokens, entry] : tokens.map((old, i) => (i === index ? entry : old));
  }
  return tokens === file.tokens ? file : { ...file, tokens };
}

function matches(entry: TokenEntry, secret: string): boolean {
  return entry.sha256 === sha256(secret) || entry.secret === secret;
}

function sha256(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Written whole under a temporary name, then renamed: the registry, which reloads the file on change, never reads half of it. */
async function writePrivate(file: string, text: string): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, text, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, file);
}

/** A secret's file readable by others (copied in, or made by hand) is narrowed to its owner. */
async function keepPrivate(file: string): Promise<void> {
  const { mode } = await stat(file);
  if ((mode & 0o077) !== 0) await chmod(file, 0o600);
}
