// Writes (register, renew, deregister, through either protocol) per credential per window, by
// @fastify/rate-limit. A write route opts in with `config: { rateLimit: WRITE_RATE_LIMIT }`; the
// plugin's route hook runs after the access guard, so the caller is known. The windows are
// counted on the registry's clock (a store of our own, which the plugin allows), so tests move
// time instead of waiting.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit, { type FastifyRateLimitStore, type FastifyRateLimitStoreCtor, type RateLimitOptions } from '@fastify/rate-limit';
import { rateLimited } from '../../protocol/errors.js';
import type { Clock } from '../../shared/clock.js';
import type { LimitRejections, RegistryLimits } from '../limits.js';

/** The route config of a write: counted against the caller's writes (`config: { rateLimit } `). */
export const WRITE_RATE_LIMIT: RateLimitOptions = Object.freeze({});

/** Keys remembered at once; beyond it the least recently seen is forgotten (its window restarts). */
const MAX_TRACKED_WRITERS = 10_000;

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
    errorResponseBuilder: (_request, context) => rateLimited(context.max, limits.writeWindowMs, Math.ceil(context.ttl / 1000)),
  });
}

/**
 * Who a write counts against: its credential; course callers (who share one) and callers without
 * a credential (authentication off) by their source address.
 */
export function writerOf(request: FastifyRequest): string {
  const principal = request.principal;
  if (principal && request.routeOptions.config?.access !== 'course') return `credential ${principal.name}`;
  return `address ${request.ip}`;
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
