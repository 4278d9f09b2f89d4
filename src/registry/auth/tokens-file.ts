// The tokens file: JSON, `{ "tokens": [ { name, sha256 | secret, scopes, services? } ] }`.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { invalidConfigFile, type RosterError } from '../../protocol/errors.js';
import { serviceName } from '../../protocol/validation.js';
import { SCOPES } from './scopes.js';
import { sha256Hex, type TokenEntry } from './token-set.js';

/** Names the registry gives its own tokens; a tokens file may not take them. */
export const RESERVED_TOKEN_NAMES = ['admin', 'admin-env', 'course', 'anonymous'] as const;
export const MIN_SECRET_LENGTH = 16;

const tokenName = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 characters: letters, digits, ".", "_" and "-"')
  .refine((name) => !(RESERVED_TOKEN_NAMES as readonly string[]).includes(name), `is reserved (${RESERVED_TOKEN_NAMES.join(', ')})`);

const tokenSpec = z
  .object({
    name: tokenName,
    sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits (the SHA-256 of the secret)').optional(),
    secret: z.string().min(MIN_SECRET_LENGTH, `must be at least ${MIN_SECRET_LENGTH} characters`).max(1024).optional(),
    scopes: z.array(z.enum(SCOPES)).min(1, 'must name at least one scope'),
    services: z.array(serviceName).max(1000).optional(),
  })
  .strict()
  .refine((spec) => (spec.sha256 === undefined) !== (spec.secret === undefined), 'needs exactly one of "sha256" and "secret"');

const tokensFileSchema = z.object({ tokens: z.array(tokenSpec).max(10_000) }).strict();

/** One token as a tokens file (or a test) states it. */
export type TokenSpec = z.input<typeof tokenSpec>;

/** Checks token specs (names unique, one secret form each) and turns them into entries. */
export function toTokenEntries(specs: unknown, where: string): TokenEntry[] {
  const parsed = tokensFileSchema.safeParse({ tokens: specs });
  if (!parsed.success) throw invalidTokens(where, describeIssue(parsed.error.issues[0]));
  return entriesOf(parsed.data.tokens, where);
}

/** Parses the text of a tokens file; `path` names it in every message. */
export function parseTokensFile(text: string, path: string): TokenEntry[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw invalidTokens(path, `is not valid JSON (${(error as Error).message})`);
  }
  const parsed = tokensFileSchema.safeParse(json);
  if (!parsed.success) throw invalidTokens(path, describeIssue(parsed.error.issues[0]));
  return entriesOf(parsed.data.tokens, path);
}

/** Reads a tokens file; a missing file holds no tokens. */
export async function readTokensFile(path: string): Promise<TokenEntry[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw invalidTokens(path, `cannot be read (${(error as Error).message})`);
  }
  return parseTokensFile(text, path);
}

function entriesOf(specs: z.output<typeof tokenSpec>[], where: string): TokenEntry[] {
  const seen = new Set<string>();
  return specs.map((spec) => {
    if (seen.has(spec.name)) throw invalidTokens(where, `names the token "${spec.name}" twice; names must be unique`);
    seen.add(spec.name);
    const sha256 = spec.sha256?.toLowerCase() ?? sha256Hex(spec.secret ?? '');
    return { name: spec.name, sha256, scopes: spec.scopes, services: spec.services ?? null };
  });
}

function describeIssue(issue: z.core.$ZodIssue | undefined): string {
  if (!issue) return 'is not a valid tokens file';
  const path = issue.path.map(String).join('.');
  return path ? `"${path}" ${issue.message}` : issue.message;
}

function invalidTokens(where: string, problem: string): RosterError {
  return invalidConfigFile(`tokens file ${where}: ${problem}; expected { "tokens": [ { "name", "sha256" or "secret", "scopes", "services"? } ] }`);
}
