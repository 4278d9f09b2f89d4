// Who is writing to the log service: the registry knows every token, so the log service asks it
// (GET /v1/auth/whoami with the writer's own token) and keeps the answer for a while. The log
// service holds no token list of its own, and a token the registry drops stops working here
// within the cache's lifetime.
import { createHash } from 'node:crypto';
import { Agent, request, type Dispatcher } from 'undici';
import { z } from 'zod';
import { registryUnreachable } from '../../protocol/errors.js';
import { systemClock, type Clock } from '../../shared/clock.js';
import { trustingCa } from '../../shared/exchange.js';
import { durationMs, func, resolveOptions, wholeNumber, withMethods } from '../../shared/options.js';

/** What the registry says of a token. `services` null: any service. */
export interface Writer {
  name: string;
  scopes: string[];
  services: string[] | null;
  /** false: the registry runs with authentication off (--insecure) and vouches for nobody. */
  authentication?: boolean;
}

/**
 * Resolves with the token's owner, or null when the registry does not know the token. Without a
 * token (null) only a registry with authentication off answers (with `authentication: false`).
 */
export interface WriterIdentity {
  identify(token: string | null): Promise<Writer | null>;
  /** Frees the sockets. Idempotent. */
  close(): Promise<void>;
}

/** The identity lookup's options, with their defaults. */
const whoamiIdentityOptionsSchema = z.strictObject({
  /** The registry URLs, read at each lookup (the log service knows them once its client exists). */
  registryUrls: func<() => readonly string[]>('a function returning the registry URLs'),
  /** PEM CA bundle trusted for an https:// registry besides the public CAs; read at the first lookup. */
  ca: func<() => string | null>('a function returning a PEM CA bundle or null').optional(),
  clock: withMethods<Clock>(['now', 'setTimeout', 'clearTimeout'], 'an object with now(), setTimeout() and clearTimeout()').default(systemClock),
  /** How long a known token's answer is kept. */
  ttlMs: durationMs(1).default(30_000),
  /** How long "unknown token" is kept: short, so a token just added works soon. */
  unknownTtlMs: durationMs(1).default(5_000),
  /** Most answers kept; the oldest go first. */
  maxEntries: wholeNumber(1).default(1_000),
  /** Per registry URL. */
  timeoutMs: durationMs(1).default(3_000),
});

export type WhoamiIdentityOptions = z.input<typeof whoamiIdentityOptionsSchema>;

const whoamiAnswer = z.object({
  name: z.string().min(1),
  scopes: z.array(z.string()),
  services: z.array(z.string()).nullable(),
  authentication: z.boolean().optional(),
});

interface Cached {
  expires: number;
  answer: Promise<Writer | null>;
}

export function createWhoamiIdentity(options: WhoamiIdentityOptions): WriterIdentity {
  const o = resolveOptions(whoamiIdentityOptionsSchema, options, { owner: 'createWhoamiIdentity' });
  let agent: Agent | null = null;
  const dispatcher = (): Agent => {
    const ca = o.ca?.() ?? null;
    // The CA is added to the public ones, as everywhere else, not put in their place.
    agent ??= new Agent({ connect: { timeout: o.timeoutMs, ...trustingCa(ca ?? undefined) } });
    return agent;
  };
  // Keyed by the token's hash: the secrets themselves are not kept in memory longer than a request.
  const cache = new Map<string, Cached>();
  let closing: Promise<void> | null = null;

  const remember = (key: string, answer: Promise<Writer | null>): void => {
    cache.delete(key);
    cache.set(key, { expires: o.clock.now() + o.ttlMs, answer });
    while (cache.size > o.maxEntries) cache.delete(cache.keys().next().value as string);
    // Failures are not kept (the next request asks again); unknown tokens are kept briefly.
    answer.then(
      (writer) => {
        const entry = cache.get(key);
        if (writer === null && entry?.answer === answer) entry.expires = o.clock.now() + o.unknownTtlMs;
      },
      () => {
        if (cache.get(key)?.answer === answer) cache.delete(key);
      },
    );
  };

  return {
    identify(token) {
      const key = token === null ? 'anonymous' : createHash('sha256').update(token).digest('hex');
      const hit = cache.get(key);
      if (hit && hit.expires > o.clock.now()) return hit.answer;
      const answer = askRegistry(dispatcher(), o.registryUrls(), token, o.timeoutMs);
      remember(key, answer);
      return answer;
    },
    close: () => (closing ??= agent?.close() ?? Promise.resolve()),
  };
}

/** Each registry URL in turn until one answers; 401 means the token is unknown. */
async function askRegistry(agent: Dispatcher, urls: readonly string[], token: string | null, timeoutMs: number): Promise<Writer | null> {
  const failures: string[] = [];
  for (const base of urls) {
    const outcome = await askOne(agent, base, token, timeoutMs);
    if (typeof outcome !== 'string') return outcome.writer;
    failures.push(`${base}: ${outcome}`);
  }
  throw registryUnreachable(`cannot check the writer's token with the registry (${failures.join('; ') || 'no registry known yet'}); try again shortly`);
}

/** `{ writer }` for an answer that settles it, else why this registry could not say. */
async function askOne(agent: Dispatcher, base: string, token: string | null, timeoutMs: number): Promise<{ writer: Writer | null } | string> {
  try {
    const response = await request(`${base}/v1/auth/whoami`, {
      dispatcher: agent,
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
      // undici's request() follows no redirect: the token goes to this registry only.
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.body.text();
    if (response.statusCode === 401) return { writer: null };
    if (response.statusCode !== 200) return `GET /v1/auth/whoami answered HTTP ${response.statusCode}`;
    const parsed = whoamiAnswer.safeParse(JSON.parse(text));
    if (!parsed.success) return 'GET /v1/auth/whoami answered an unexpected body';
    // A secure registry never answers without a token; if one did, it would vouch for nobody.
    if (token === null && parsed.data.authentication !== false) return { writer: null };
    return { writer: parsed.data };
  } catch (error) {
    const err = error as { code?: string; name?: string; message?: string };
    return err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err.code ?? err.message ?? String(error));
  }
}

/**
 * The name a writer's entries are stored under: its token's one service, else the token's name.
 * With the registry's authentication off nobody is known, so the entry's own claim stands.
 */
export function writerName(writer: Writer, claimed?: string): string {
  if (writer.authentication === false) return claimed ?? writer.name;
  return writer.services?.length === 1 ? (writer.services[0] as string) : writer.name;
}

export function canWrite(writer: Writer): boolean {
  return writer.scopes.includes('register') || writer.scopes.includes('admin');
}

export function canRead(writer: Writer): boolean {
  return canWrite(writer) || writer.scopes.includes('read');
}
