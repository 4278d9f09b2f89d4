// The client's options: one defaults object, validated at construction, then frozen.
import { checkOption, httpUrl, serviceName, LIMITS } from '../protocol/index.js';
import type { InstanceMetadata } from '../protocol/index.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { readCaFile } from '../shared/exchange.js';

export type Strategy = 'round-robin' | 'random';
export type ClientProtocol = 'roster' | 'course';
/** How the view of required services is kept current: patches POSTed to us, or GET /v1/watch. */
export type Notifications = 'callback' | 'watch';

/** Anything with these four methods: console, pino, or a test double. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
}

export interface RegistryClientOptions {
  /** This instance's service name. */
  service: string;
  /** This instance's advertised base URL. */
  url: string;
  /** One URL, or several to fail over between. Default: ROSTER_REGISTRY_URL or http://localhost:3000. */
  registryUrl?: string | string[];
  protocol?: ClientProtocol;
  requires?: string[];
  /** Where the registry POSTs patches. Default `url + '/services'`; null: no callbacks (the client polls). */
  updateUrl?: string | null;
  /** 'watch': no update URL; the view follows the registry's watch stream. Default 'callback'. */
  notifications?: Notifications;
  /** Probed by the registry. Default `url + '/heartbeat'`; null: TTL mode (the client renews). */
  heartbeatUrl?: string | null;
  /** TTL mode only (heartbeatUrl null). Default 15000. */
  ttlMs?: number;
  metadata?: InstanceMetadata;
  strategy?: Strategy;
  requestTimeoutMs?: number;
  /** How often the client confirms the registry still knows it. */
  checkIntervalMs?: number;
  clock?: Clock;
  logger?: Logger;
  /** Sent as `Authorization: Bearer <token>` on every call to the registry. Default: ROSTER_TOKEN. */
  token?: string;
  /** `ca`: path of a PEM CA bundle to trust for an https:// registry, besides the public CAs. Default: ROSTER_TLS_CA. */
  tls?: ClientTlsOptions;
}

export interface ClientTlsOptions {
  ca?: string;
}

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
  readonly metadata: InstanceMetadata | undefined;
  readonly strategy: Strategy;
  readonly requestTimeoutMs: number;
  readonly checkIntervalMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The bearer token, or null to send none. */
  readonly token: string | null;
  /** The CA bundle's PEM text (read once, at construction), or null for the public CAs only. */
  readonly tlsCa: string | null;
}

export const DEFAULT_REGISTRY_URL = 'http://localhost:3000';
export const DEFAULT_TTL_MS = 15_000;

/** Warnings and errors only: a library should not chat on stdout. */
export const defaultLogger: Logger = {
  info: () => {},
  debug: () => {},
  warn: (message) => console.warn(`roster: ${message}`),
  error: (message) => console.warn(`roster: ${message}`),
};

export function resolveClientOptions(options: RegistryClientOptions): ResolvedClientOptions {
  checkOption(typeof options === 'object' && options !== null, 'options', 'an object');
  checkOption(serviceName.safeParse(options.service).success, 'service', 'a service name (a letter, then letters, digits, ".", "_" or "-")');
  checkOption(httpUrl.safeParse(options.url).success, 'url', 'an absolute http:// or https:// URL');
  const url = trimSlash(options.url);
  const protocol = options.protocol ?? 'roster';
  checkOption(protocol === 'roster' || protocol === 'course', 'protocol', '"roster" or "course"');
  const heartbeatUrl = optionalUrl(options.heartbeatUrl, 'heartbeatUrl', `${url}/heartbeat`);
  const notifications = resolveNotifications(options.notifications, options.updateUrl, protocol);
  return Object.freeze({
    service: options.service,
    url,
    registryUrls: Object.freeze(resolveRegistryUrls(options.registryUrl)),
    protocol,
    requires: Object.freeze(resolveRequires(options.requires)),
    updateUrl: notifications === 'watch' ? null : optionalUrl(options.updateUrl, 'updateUrl', `${url}/services`),
    notifications,
    heartbeatUrl,
    ttlMs: resolveTtl(options.ttlMs, heartbeatUrl, protocol),
    metadata: resolveMetadata(options.metadata),
    strategy: resolveStrategy(options.strategy),
    requestTimeoutMs: positiveMs(options.requestTimeoutMs, 'requestTimeoutMs', 2_000),
    checkIntervalMs: positiveMs(options.checkIntervalMs, 'checkIntervalMs', 5_000),
    clock: resolveClock(options.clock),
    logger: resolveLogger(options.logger),
    token: resolveToken(options.token),
    tlsCa: resolveTlsCa(options.tls),
  });
}

/** Explicit option, else ROSTER_TOKEN; it must fit in a header line. */
function resolveToken(value: string | undefined): string | null {
  const fromEnv = process.env.ROSTER_TOKEN?.trim();
  const token = value ?? (fromEnv || null);
  if (token === null) return null;
  const name = value === undefined ? 'ROSTER_TOKEN' : 'token';
  checkOption(typeof token === 'string' && /^[\x21-\x7e]{1,4096}$/.test(token), name, 'a non-empty token of printable characters without spaces');
  return token;
}

/** Reads the CA bundle named by `tls.ca` or ROSTER_TLS_CA: a bad path fails at construction, not at the first call. */
function resolveTlsCa(value: ClientTlsOptions | undefined): string | null {
  checkOption(value === undefined || (typeof value === 'object' && value !== null), 'tls', 'an object: { ca?: path of a PEM CA bundle }');
  const explicit = value?.ca;
  checkOption(explicit === undefined || (typeof explicit === 'string' && explicit.length > 0), 'tls.ca', 'the path of a PEM CA bundle');
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
  const fromEnv = process.env.ROSTER_REGISTRY_URL?.trim();
  const raw = value ?? (fromEnv ? fromEnv.split(',') : [DEFAULT_REGISTRY_URL]);
  const urls = (Array.isArray(raw) ? raw : [raw]).map((url) => (typeof url === 'string' ? url.trim() : url));
  const valid = urls.length > 0 && urls.every((url) => httpUrl.safeParse(url).success);
  checkOption(valid, 'registryUrl', 'an http(s) URL or a non-empty list of them (ROSTER_REGISTRY_URL may list several, comma-separated)');
  return urls.map(trimSlash);
}

function resolveRequires(value: string[] | undefined): string[] {
  const names = value ?? [];
  const valid = Array.isArray(names) && names.every((name) => serviceName.safeParse(name).success);
  checkOption(valid && names.length <= LIMITS.requires, 'requires', `a list of at most ${LIMITS.requires} service names`);
  checkOption(new Set(names).size === names.length, 'requires', 'a list without duplicates');
  return [...names];
}

function optionalUrl(value: string | null | undefined, name: string, fallback: string): string | null {
  if (value === null) return null;
  if (value === undefined) return fallback;
  checkOption(httpUrl.safeParse(value).success, name, 'an absolute http(s) URL or null');
  return value;
}

function resolveNotifications(value: Notifications | undefined, updateUrl: string | null | undefined, protocol: ClientProtocol): Notifications {
  const notifications = value ?? 'callback';
  checkOption(notifications === 'callback' || notifications === 'watch', 'notifications', '"callback" or "watch"');
  if (notifications === 'callback') return notifications;
  // The course's registry has no watch stream; a watcher takes no callbacks.
  checkOption(protocol === 'roster', 'notifications', '"callback" with protocol "course" (its registry has no watch stream)');
  checkOption(updateUrl === undefined || updateUrl === null, 'updateUrl', 'left out with notifications "watch" (changes come over the watch stream)');
  return notifications;
}

function resolveTtl(value: number | undefined, heartbeatUrl: string | null, protocol: ClientProtocol): number | null {
  // The course's registry only probes heartbeats; it has no renew endpoint.
  checkOption(!(protocol === 'course' && heartbeatUrl === null), 'heartbeatUrl', 'a URL with protocol "course" (its registry probes it)');
  if (heartbeatUrl !== null) {
    checkOption(value === undefined, 'ttlMs', 'left out unless heartbeatUrl is null (TTL mode)');
    return null;
  }
  const ttl = value ?? DEFAULT_TTL_MS;
  const valid = Number.isInteger(ttl) && ttl >= LIMITS.minTtlMs && ttl <= LIMITS.maxTtlMs;
  checkOption(valid, 'ttlMs', `an integer from ${LIMITS.minTtlMs} to ${LIMITS.maxTtlMs} (milliseconds)`);
  return ttl;
}

function resolveMetadata(value: InstanceMetadata | undefined): InstanceMetadata | undefined {
  checkOption(value === undefined || (typeof value === 'object' && value !== null && !Array.isArray(value)), 'metadata', 'a plain object');
  return value === undefined ? undefined : Object.freeze({ ...value });
}

function resolveStrategy(value: Strategy | undefined): Strategy {
  const strategy = value ?? 'round-robin';
  checkOption(strategy === 'round-robin' || strategy === 'random', 'strategy', '"round-robin" or "random"');
  return strategy;
}

function positiveMs(value: number | undefined, name: string, fallback: number): number {
  const ms = value ?? fallback;
  checkOption(Number.isInteger(ms) && ms > 0, name, 'a positive integer (milliseconds)');
  return ms;
}

function resolveClock(value: Clock | undefined): Clock {
  const clock = value ?? systemClock;
  checkOption(hasMethods(clock, ['now', 'setTimeout', 'clearTimeout']), 'clock', 'an object with now(), setTimeout() and clearTimeout()');
  return clock;
}

function resolveLogger(value: Logger | undefined): Logger {
  const logger = value ?? defaultLogger;
  checkOption(hasMethods(logger, ['info', 'warn', 'error', 'debug']), 'logger', 'an object with info(), warn(), error() and debug()');
  return logger;
}

function hasMethods(value: unknown, names: string[]): boolean {
  if (typeof value !== 'object' || value === null) return false;
  return names.every((name) => typeof (value as Record<string, unknown>)[name] === 'function');
}
