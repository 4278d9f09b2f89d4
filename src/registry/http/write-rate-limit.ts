// Writes (register, deregister, through either protocol) per credential per window, by
// @fastify/rate-limit. A write route opts in with `config: { rateLimit: WRITE_RATE_LIMIT }`; the
// plugin's route hook runs after the access guard, so the caller is known. The windows are
// counted on the registry's clock (a store of our own, which the plugin allows), so tests move
// time instead of waiting.
import { isIPv4, isIPv6 } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit, { type FastifyRateLimitStore, type FastifyRateLimitStoreCtor, type RateLimitOptions } from '@fastify/rate-limit';
import { rateLimited } from '../../protocol/errors.js';
import type { Clock } from '../../shared/clock.js';
import type { LimitRejections, RegistryLimits } from '../limits.js';
import { sourceAddressOf } from './access-guard.js';

/** The route config of a write: counted against the caller's writes (`config: { rateLimit } `). */
export const WRITE_RATE_LIMIT: RateLimitOptions = Object.freeze({});

/**
 * Keys remembered at once; beyond it the least recently seen is forgotten (its window restarts).
 * Forgetting must not hand an active caller a fresh window: the least recent key is still in its
 * window only if all the other remembered keys wrote after it within that window, so the store
 * is sized above the distinct writers one window can see. Credentials are few (the tokens file);
 * source addresses are keyed by /64, so each key needs a network of its own and a request to
 * make it: resetting an active caller takes 200,000 other networks writing within one window
 * (20,000 new ones a second over the default 10 s). A key costs about 150 bytes (30 MB at most).
 */
const MAX_TRACKED_WRITERS = 200_000;

export interface WriteRateLimitOptions {
  limits: Pick<RegistryLimits, 'writesPerWindow' | 'writeWindowMs'>;
  rejections: LimitRejections;
  clock: Clock;
}

/** Registers the plugin on `app`'s root, before the routes it guards. */
export function registerWriteRateLimit(app: FastifyInstance, { limits, rejections, clock }: WriteRateLimitOptions): void {
  const store = new ClockWindowStore(clock);
  app.register(rateLimit, {
    global: false,
    max: limits.writesPerWindow,
    timeWindow: limits.writeWindowMs,
    hook: 'onRequest',
    keyGenerator: writerOf,
    store: class {
      constructor() {
        return store;
      }
    } as unknown as FastifyRateLimitStoreCtor,
    // Answers that pass carry no rate headers: the course's answers stay as the course sends them.
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
    onExceeded: () => rejections.count('writesPerWindow'),
    errorResponseBuilder: (request, context) => rateLimited(context.max, limits.writeWindowMs, Math.ceil(context.ttl / 1000), writerOf(request)),
  });
}

/**
 * Who a write counts against, as the refusal names it: its credential; course callers (who share
 * one) and callers without a credential (authentication off) by their source address.
 */
export function writerOf(request: FastifyRequest): string {
  const principal = request.principal;
  if (principal && request.routeOptions.config?.access !== 'course') return `credential "${principal.name}"`;
  // A write another node forwarded counts against its caller's address, not the node's.
  return `source address ${sourceKeyOf(sourceAddressOf(request))}`;
}

/**
 * A source address as counted: an IPv4 address (also when IPv4-mapped) as it is; an IPv6 address
 * by its /64, the smallest network a site is given, so a caller with many addresses of its own
 * network shares one window.
 */
export function sourceKeyOf(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped && isIPv4(mapped[1] as string)) return mapped[1] as string;
  const address = ip.split('%')[0] as string;
  if (!isIPv6(address)) return ip;
  const network = ipv6Groups(address).slice(0, 4).map((group) => Number.parseInt(group, 16).toString(16));
  return `${network.join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address, "::" expanded (a dotted tail is two groups). */
function ipv6Groups(address: string): string[] {
  const [head = '', tail] = address.split('::');
  const front = groupsOf(head);
  const back = tail === undefined ? [] : groupsOf(tail);
  return [...front, ...Array<string>(8 - front.length - back.length).fill('0'), ...back];
}

function groupsOf(text: string): string[] {
  if (text === '') return [];
  return text.split(':').flatMap((group) => {
    if (!group.includes('.')) return [group];
    const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number);
    return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
  });
}

/** Fixed windows per key, read on `clock`; every write route shares it (child() is itself). */
class ClockWindowStore implements FastifyRateLimitStore {
  readonly #clock: Clock;
  /** In order of last use, oldest first. */
  readonly #windows = new Map<string, { count: number; startedAt: number }>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number): void {
    const now = this.#clock.now();
    const current = this.#windows.get(key);
    const window = current && now - current.startedAt < timeWindow ? current : { count: 0, startedAt: now };
    this.#windows.delete(key);
    this.#windows.set(key, window);
    if (this.#windows.size > MAX_TRACKED_WRITERS) this.#windows.delete(this.#windows.keys().next().value as string);
    window.count += 1;
    callback(null, { current: window.count, ttl: window.startedAt + timeWindow - now });
  }

  child(): FastifyRateLimitStore {
    return this;
  }
}
