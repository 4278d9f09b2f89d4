// The client's options: one schema with its defaults, validated at construction, then frozen.
import { z } from 'zod';
import { checkOption, hasControlCharacter, LIMITS } from '../protocol/index.js';
import { httpUrl, serviceName } from '../protocol/validation.js';
import type { InstanceMetadata } from '../protocol/index.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { readCaFile } from '../shared/exchange.js';
import type { Logger } from '../shared/logger.js';
import { durationMs, oneOf, resolveOptions, text, wholeNumber, withMethods } from '../shared/options.js';
import { DEFAULT_REGISTER_RETRY, type RetryPolicy } from './register-retry.js';

/** 'round-robin' is smooth weighted round-robin (plain round-robin when weights are equal); 'weighted' is weighted random. */
export type Strategy = 'round-robin' | 'weighted' | 'random';
export type ClientProtocol = 'roster' | 'course';
/** How the view of required services is kept current: patches POSTed to us, or GET /v1/watch. */
export type Notifications = 'callback' | 'watch';
/** 'probe': the registry probes the heartbeat URL (or waits for renewals); 'session': a session stream to the registry says this process is alive. */
export type ClientLiveness = 'probe' | 'session';

/** Roster's one logger type: console, pino, or a test double. */
export type { Logger } from '../shared/logger.js';

export interface ResolvedClientOptions {
  readonly service: string;
  readonly url: string;
  readonly registryUrls: readonly string[];
  readonly protocol: ClientProtocol;
  readonly requires: readonly string[];
  readonly updateUrl: string | null;
  readonly notifications: Notifications;
  readonly heartbeatUrl: string | null;
  readonly ttlMs: number | null;
  readonly liveness: ClientLiveness;
  readonly metadata: InstanceMetadata | undefined;
  readonly strategy: Strategy;
  /** Routing, sent in the registration's metadata (null: not given). */
  readonly weight: number | null;
  readonly tags: readonly string[] | null;
  /** This instance's zone, and the zone whose providers provider() prefers: `zone` or ROSTER_ZONE. */
  readonly zone: string | null;
  readonly requestTimeoutMs: number;
  readonly checkIntervalMs: number;
  /** How register() waits for a registry that is not there yet; null: it fails at once (REGISTRY_UNREACHABLE). */
  readonly registerRetry: RetryPolicy | null;
  /** Course protocol: the least time without a heartbeat probe that means the registry has forgotten us (longer after slower probes). */
  readonly forgottenAfterMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The bearer token, or null to send none. */
  readonly token: string | null;
  /** The CA bundle's PEM text (read once, at construction), or null for the public CAs only. */
  readonly tlsCa: string | null;
}

export const DEFAULT_REGISTRY_URL = 'http://localhost:3000';
export const DEFAULT_TTL_MS = 15_000;
/**
 * The least wait without a probe before a course client registers again. The course's registry
 * probes one instance every 3 s in turn, so each of N instances every 3·N s (9 s with the three
 * demo services): the client waits three times the longest gap it has seen when that is longer.
 */
export const DEFAULT_FORGOTTEN_AFTER_MS = 30_000;

/** Warnings and errors only: a library should not chat on stdout. */
export const defaultLogger: Logger = {
  info: () => {},
  debug: () => {},
  warn: (obj, msg) => console.warn(`roster: ${lineOf(obj, msg)}`),
  error: (obj, msg) => console.warn(`roster: ${lineOf(obj, msg)}`),
};

/** The message of a log call, with its fields (if any) after it as JSON. */
function lineOf(obj: object | string, msg?: string): string {
  if (typeof obj === 'string') return obj;
  return msg === undefined ? JSON.stringify(obj) : `${msg} ${JSON.stringify(obj)}`;
}


const anHttpUrl = 'an absolute http:// or https:// URL';
const aServiceName = 'a service name (a letter, then letters, digits, ".", "_" or "-")';
const aToken = 'a non-empty token of printable characters without spaces';
const TOKEN = /^[\x21-\x7e]{1,4096}$/;

const url = (expected = anHttpUrl): z.ZodType<string, string> => z.custom<string>((value) => httpUrl.safeParse(value).success, { error: expected });
const aRoutingName = `a non-empty string of at most ${LIMITS.tagLength} characters without control characters`;
const routingName = z.custom<string>((value) => isRoutingName(value), { error: aRoutingName });
const name = z.custom<string>((value) => serviceName.safeParse(value).success, { error: aServiceName });

/** The client's options as a user writes them, with their defaults; startService takes them too. */
export const clientOptionsObject = z.strictObject({
  /** This instance's service name. */
  service: name,
  /** This instance's advertised base URL. */
  url: url(),
  /** One URL, or several to fail over between. Default: ROSTER_REGISTRY_URL or http://localhost:3000. */
  registryUrl: z.union([url(), z.array(url()).min(1)], { error: 'an http(s) URL or a non-empty list of them (ROSTER_REGISTRY_URL may list several, comma-separated)' }).optional(),
  protocol: oneOf(['roster', 'course']).default('roster'),
  requires: z
    .array(name, { error: `a list of at most ${LIMITS.requires} service names` })
    .max(LIMITS.requires)
    .refine((names) => new Set(names).size === names.length, { error: 'a list without duplicates' })
    .default([]),
  /** Where the registry POSTs patches. Default `url + '/services'`; null: no callbacks (the client polls). */
  updateUrl: url('an absolute http(s) URL or null').nullable().optional(),
  /** 'watch': no update URL; the view follows the registry's watch stream. Default 'callback'. */
  notifications: oneOf(['callback', 'watch']).default('callback'),
  /** Probed by the registry. Default `url + '/heartbeat'`; null: TTL mode (the client renews). */
  heartbeatUrl: url('an absolute http(s) URL or null').nullable().optional(),
  /** TTL mode only (heartbeatUrl null). Default DEFAULT_TTL_MS. */
  ttlMs: wholeNumber(LIMITS.minTtlMs, LIMITS.maxTtlMs, 'milliseconds').optional(),
  /** 'session': no heartbeat URL; the client holds a session stream open to the registry. Default 'probe'. */
  liveness: oneOf(['probe', 'session']).default('probe'),
  metadata: z.custom<InstanceMetadata>((value) => typeof value === 'object' && value !== null && !Array.isArray(value), { error: 'a plain object' }).optional(),
  strategy: oneOf(['round-robin', 'weighted', 'random']).default('round-robin'),
  /** This instance's share of its service's picks, 0 to 1000 (registry default 100; 0: never picked). */
  weight: wholeNumber(0, LIMITS.maxWeight).optional(),
  /** This instance's tags (they replace metadata.tags). */
  tags: z.array(routingName, { error: `a list of at most ${LIMITS.tags} tags` }).max(LIMITS.tags).optional(),
  /** This instance's zone, preferred when it picks providers. Default: ROSTER_ZONE. */
  zone: routingName.optional(),
  requestTimeoutMs: durationMs(1).default(2_000),
  /** How often the client confirms the registry still knows it. */
  checkIntervalMs: durationMs(1).default(5_000),
  /**
   * While the registry cannot be reached, register() tries again after `initialDelayMs`, doubling
   * up to `maxDelayMs` (jittered). false: it rejects at once with REGISTRY_UNREACHABLE, as before.
   */
  registerRetry: z
    .union([z.boolean(), z.strictObject({ initialDelayMs: durationMs(1).optional(), maxDelayMs: durationMs(1).optional() })], {
      error: 'true, false or { initialDelayMs?, maxDelayMs? } (milliseconds)',
    })
    .default(true),
  /** Course protocol: with no heartbeat probe for this long, register again (the registry forgot us). */
  forgottenAfterMs: durationMs(1).default(DEFAULT_FORGOTTEN_AFTER_MS),
  clock: withMethods<Clock>(['now', 'setTimeout', 'clearTimeout'], 'an object with now(), setTimeout() and clearTimeout()').default(systemClock),
  logger: withMethods<Logger>(['info', 'warn', 'error', 'debug'], 'an object with info(), warn(), error() and debug()').default(defaultLogger),
  /** Sent as `Authorization: Bearer <token>` on every call to the registry. Default: ROSTER_TOKEN. */
  token: z.string({ error: aToken }).regex(TOKEN).optional(),
  /** `ca`: path of a PEM CA bundle to trust for an https:// registry, besides the public CAs. Default: ROSTER_TLS_CA. */
  tls: z.strictObject({ ca: text('the path of a PEM CA bundle').optional() }, { error: 'an object: { ca?: path of a PEM CA bundle }' }).optional(),
});

export type RegistryClientOptions = z.input<typeof clientOptionsObject>;
export type ClientTlsOptions = NonNullable<RegistryClientOptions['tls']>;
type CheckedOptions = z.output<typeof clientOptionsObject>;

const clientOptionsSchema = clientOptionsObject.transform(settle);

export function resolveClientOptions(options: RegistryClientOptions): ResolvedClientOptions {
  checkOption(typeof options === 'object' && options !== null, 'options', 'an object');
  return resolveOptions(clientOptionsSchema, options, { owner: 'RegistryClient' });
}

/** What depends on the environment or on other options, once each option alone is known good. */
function settle(options: CheckedOptions): ResolvedClientOptions {
  const { service, protocol, requires, strategy, requestTimeoutMs, checkIntervalMs, forgottenAfterMs, clock, logger } = options;
  const url = trimSlash(options.url);
  const liveness = checkLiveness(options);
  const heartbeatUrl = liveness === 'session' ? null : options.heartbeatUrl === undefined ? `${url}/heartbeat` : options.heartbeatUrl;
  const notifications = checkNotifications(options);
  return {
    service,
    url,
    registryUrls: resolveRegistryUrls(options.registryUrl),
    protocol,
    requires,
    updateUrl: notifications === 'watch' ? null : options.updateUrl === undefined ? `${url}/services` : options.updateUrl,
    notifications,
    heartbeatUrl,
    ttlMs: liveness === 'session' ? null : resolveTtl(options.ttlMs, heartbeatUrl, protocol),
    liveness,
    metadata: options.metadata === undefined ? undefined : { ...options.metadata },
    strategy,
    weight: options.weight ?? null,
    tags: options.tags === undefined ? null : [...options.tags],
    zone: resolveZone(options.zone),
    requestTimeoutMs,
    checkIntervalMs,
    registerRetry: resolveRegisterRetry(options.registerRetry),
    forgottenAfterMs,
    clock,
    logger,
    token: resolveToken(options.token),
    tlsCa: resolveTlsCa(options.tls?.ca),
  };
}

/** true: the defaults; an object: the defaults with its values on top; false: no retry. */
function resolveRegisterRetry(value: CheckedOptions['registerRetry']): RetryPolicy | null {
  if (value === false) return null;
  const policy = { ...DEFAULT_REGISTER_RETRY, ...(value === true ? {} : definedOnly(value)) };
  checkOption(policy.maxDelayMs >= policy.initialDelayMs, 'registerRetry.maxDelayMs', `at least registerRetry.initialDelayMs (${policy.initialDelayMs})`);
  return policy;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as Partial<T>;
}

function isRoutingName(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= LIMITS.tagLength && !hasControlCharacter(value);
}

/** Explicit option, else ROSTER_ZONE (empty: none). */
function resolveZone(value: string | undefined): string | null {
  if (value !== undefined) return value;
  const fromEnv = process.env.ROSTER_ZONE?.trim();
  if (!fromEnv) return null;
  checkOption(isRoutingName(fromEnv), 'ROSTER_ZONE', aRoutingName);
  return fromEnv;
}

/** Explicit option, else ROSTER_TOKEN; it must fit in a header line. */
function resolveToken(value: string | undefined): string | null {
  if (value !== undefined) return value;
  const fromEnv = process.env.ROSTER_TOKEN?.trim();
  if (!fromEnv) return null;
  checkOption(TOKEN.test(fromEnv), 'ROSTER_TOKEN', aToken);
  return fromEnv;
}

/** Reads the CA bundle named by `tls.ca` or ROSTER_TLS_CA: a bad path fails at construction, not at the first call. */
function resolveTlsCa(explicit: string | undefined): string | null {
  const fromEnv = process.env.ROSTER_TLS_CA?.trim() || undefined;
  const option = explicit === undefined && fromEnv !== undefined ? 'ROSTER_TLS_CA' : 'tls.ca';
  const pem = readCaFile(explicit ?? fromEnv, option);
  if (pem === undefined) return null;
  checkOption(pem.includes('-----BEGIN CERTIFICATE-----'), option, `the path of a PEM CA bundle (${explicit ?? fromEnv} holds no certificate)`);
  return pem;
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

/** Explicit option first, then the environment (comma-separated), then the course's address. */
function resolveRegistryUrls(value: string | string[] | undefined): string[] {
  if (value !== undefined) return (Array.isArray(value) ? value : [value]).map((url) => trimSlash(url.trim()));
  const fromEnv = process.env.ROSTER_REGISTRY_URL?.trim();
  const urls = fromEnv ? fromEnv.split(',').map((url) => url.trim()) : [DEFAULT_REGISTRY_URL];
  checkOption(urls.every((url) => httpUrl.safeParse(url).success), 'ROSTER_REGISTRY_URL', 'an http(s) URL or several, comma-separated');
  return urls.map(trimSlash);
}

function checkNotifications({ notifications, updateUrl, protocol }: CheckedOptions): Notifications {
  if (notifications === 'callback') return notifications;
  // The course's registry has no watch stream; a watcher takes no callbacks.
  checkOption(protocol === 'roster', 'notifications', '"callback" with protocol "course" (its registry has no watch stream)');
  checkOption(updateUrl === undefined || updateUrl === null, 'updateUrl', 'left out with notifications "watch" (changes come over the watch stream)');
  return notifications;
}

/** A session replaces the heartbeat and the TTL, and only Roster's registry holds sessions. */
function checkLiveness({ liveness, protocol, heartbeatUrl, ttlMs }: CheckedOptions): ClientLiveness {
  if (liveness === 'probe') return liveness;
  checkOption(protocol === 'roster', 'liveness', '"probe" with protocol "course" (its registry only probes)');
  checkOption(heartbeatUrl === undefined || heartbeatUrl === null, 'heartbeatUrl', 'left out with liveness "session" (the session stream replaces the heartbeat)');
  checkOption(ttlMs === undefined, 'ttlMs', 'left out with liveness "session"');
  return liveness;
}

function resolveTtl(value: number | undefined, heartbeatUrl: string | null, protocol: ClientProtocol): number | null {
  // The course's registry only probes heartbeats; it has no renew endpoint.
  checkOption(!(protocol === 'course' && heartbeatUrl === null), 'heartbeatUrl', 'a URL with protocol "course" (its registry probes it)');
  if (heartbeatUrl !== null) {
    checkOption(value === undefined, 'ttlMs', 'left out unless heartbeatUrl is null (TTL mode)');
    return null;
  }
  return value ?? DEFAULT_TTL_MS;
}
