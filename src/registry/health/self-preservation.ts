// Self-preservation: when many instances turn critical at once, the likelier fault is the
// registry's own (its network, its host), not theirs. Then the registry suspects itself: it
// holds the `Removed` notifications and the expiry of critical instances, keeps probing, and
// returns to the normal rules as instances recover, or after a bound. One instance failing on
// its own never starts it and is removed as ever.
//
// This module only decides. It sees each critical transition on the clock, keeps a sliding
// window of them, and says whether an instance's removal is held; the registry acts on that.

import { z } from 'zod';
import type { Clock, TimerHandle } from '../../shared/clock.js';
import { durationMs, flag, resolveOptions, wholeNumber } from '../../shared/options.js';

const share = (): z.ZodNumber => z.number({ error: 'a number from 0 to 1' }).min(0).max(1);

/** Self-preservation's options, with their defaults (docs/operations.md). */
export const selfPreservationOptionsSchema = z
  .strictObject({
    enabled: flag().default(true),
    /** Starts when more than this share of one service's instances turn critical within windowMs… */
    serviceShare: share().default(0.5),
    /** …for a service of at least this many instances (and a catalog of at least this many, for totalShare). */
    minInstances: wholeNumber(1).default(3),
    /** Starts when more than this share of all instances turn critical within windowMs. */
    totalShare: share().default(0.5),
    /** The sliding window. Default: one probe interval (health.intervalMs). */
    windowMs: durationMs(1).optional(),
    /**
     * Ends when the instances still held make up this share or less of every service (and of
     * all): lower than the shares that start it, so that it does not flap.
     */
    exitShare: share().default(0.25),
    /** Ends after this long whatever the state, and the instances still critical are removed. */
    maxHoldMs: durationMs(1).default(300_000),
  })
  .refine((options) => options.exitShare < Math.min(options.serviceShare, options.totalShare), {
    error: 'a share lower than serviceShare and totalShare (so that self-preservation does not flap)',
    path: ['exitShare'],
  });

export type SelfPreservationOptions = z.output<typeof selfPreservationOptionsSchema>;

/** What GET /v1/health shows as `selfPreservation`. */
export interface SelfPreservationState {
  active: boolean;
  /** When it started (ms since the epoch), or null while inactive. */
  since: number | null;
  /** Why it started ("3 of 4 instances of grading turned critical within 3000 ms"), or null. */
  reason: string | null;
}

/** The state and how many times it started: what /metrics shows. */
export interface SelfPreservationStatus extends SelfPreservationState {
  activations: number;
}

export type SelfPreservationEvent =
  /** `restored`: instances already told Removed in the window that is now held; dependents may hear them again. */
  | { type: 'started'; at: number; reason: string; restored: string[] }
  /** `stillCritical`: held instances that did not recover; their removal happens now. */
  | { type: 'ended'; at: number; cause: 'recovered' | 'bound'; stillCritical: string[] };

/** What the decision needs of the catalog. */
export interface Census {
  /** Instances of `service` now registered, whatever their health. */
  countOf(service: string): number;
  /** Instances now registered. */
  total(): number;
  isCritical(id: string): boolean;
}

export interface SelfPreservationInit {
  clock: Clock;
  census: Census;
  options?: z.input<typeof selfPreservationOptionsSchema>;
  /** The window when options.windowMs is not given: one probe interval. */
  defaultWindowMs: number;
  onEvent: (event: SelfPreservationEvent) => void;
}

interface Transition {
  id: string;
  service: string;
  at: number;
}

export function resolveSelfPreservationOptions(input?: z.input<typeof selfPreservationOptionsSchema>): Readonly<SelfPreservationOptions> {
  return resolveOptions(selfPreservationOptionsSchema, input, { owner: 'the registry', path: 'selfPreservation' });
}

export class SelfPreservation {
  readonly options: Readonly<SelfPreservationOptions>;
  readonly windowMs: number;
  readonly #clock: Clock;
  readonly #census: Census;
  readonly #onEvent: (event: SelfPreservationEvent) => void;
  /** Critical transitions of the last windowMs, oldest first. */
  #window: Transition[] = [];
  /** Instances whose removal is held, by id, with their service. */
  readonly #held = new Map<string, string>();
  #since: number | null = null;
  #reason: string | null = null;
  #bound: TimerHandle | null = null;
  /** Armed once few enough instances are held: the end, unless the rest recover first. */
  #settle: TimerHandle | null = null;
  /** Times it started since the registry did. */
  #activations = 0;

  constructor(init: SelfPreservationInit) {
    this.options = resolveSelfPreservationOptions(init.options);
    this.windowMs = this.options.windowMs ?? init.defaultWindowMs;
    this.#clock = init.clock;
    this.#census = init.census;
    this.#onEvent = init.onEvent;
  }

  get active(): boolean {
    return this.#since !== null;
  }

  get state(): SelfPreservationState {
    return { active: this.active, since: this.#since, reason: this.#reason };
  }

  get status(): SelfPreservationStatus {
    return { ...this.state, activations: this.#activations };
  }

  /** Instances whose removal is held now. */
  get heldCount(): number {
    return this.#held.size;
  }

  /** True while the removal (notification and expiry) of `id` is held. */
  holds(id: string): boolean {
    return this.#held.has(id);
  }

  /**
   * `id` of `service` turned critical. True when its removal is held: self-preservation is
   * on, or this transition starts it.
   */
  critical(id: string, service: string): boolean {
    if (!this.options.enabled) return false;
    if (this.active) {
      this.#held.set(id, service);
      return true;
    }
    const transition = { id, service, at: this.#clock.now() };
    this.#prune(transition.at);
    this.#window.push(transition);
    const reason = this.#suspicion(service);
    if (reason === null) return false;
    this.#start(transition, reason);
    return true;
  }

  /**
   * `id` passes again, registered again, or left the catalog. True when its removal was held:
   * dependents never heard it go, so they need not hear it come back (and must hear it leave).
   */
  released(id: string): boolean {
    if (!this.#held.delete(id)) return false;
    if (this.active) this.#considerEnding();
    return true;
  }

  close(): void {
    if (this.#bound !== null) this.#clock.clearTimeout(this.#bound);
    if (this.#settle !== null) this.#clock.clearTimeout(this.#settle);
    this.#bound = null;
    this.#settle = null;
  }

  /**
   * Ends at once when every held instance recovered. When few enough are held, ends a window
   * later if still so: the last ones of a wave get a probe interval to come back rather than
   * be removed and added again a moment later.
   */
  #considerEnding(): void {
    if (this.#held.size === 0) return this.#end('recovered');
    if (this.#settle !== null || !this.#fewHeld()) return;
    this.#settle = this.#clock.setTimeout(() => {
      this.#settle = null;
      if (this.#fewHeld()) this.#end('recovered');
    }, this.windowMs);
  }

  #prune(now: number): void {
    const from = now - this.windowMs;
    while (this.#window.length > 0 && (this.#window[0] as Transition).at <= from) this.#window.shift();
  }

  /** Why the window now looks like the registry's fault, or null when it does not. */
  #suspicion(service: string): string | null {
    const { serviceShare, totalShare, minInstances } = this.options;
    const ids = new Set(this.#window.map((transition) => transition.id));
    const ofService = new Set(this.#window.filter((transition) => transition.service === service).map((transition) => transition.id));
    const inService = this.#census.countOf(service);
    const within = `within ${this.windowMs} ms`;
    if (inService >= minInstances && ofService.size > serviceShare * inService) {
      return `${ofService.size} of ${inService} instances of ${service} turned critical ${within}`;
    }
    const total = this.#census.total();
    if (total >= minInstances && ids.size > totalShare * total) return `${ids.size} of ${total} instances turned critical ${within}`;
    return null;
  }

  #start(trigger: Transition, reason: string): void {
    const now = trigger.at;
    this.#since = now;
    this.#reason = reason;
    this.#activations++;
    const restored: string[] = [];
    for (const { id, service } of this.#window) {
      if (id === trigger.id || this.#held.has(id) || !this.#census.isCritical(id)) continue;
      this.#held.set(id, service);
      restored.push(id);
    }
    this.#held.set(trigger.id, trigger.service);
    this.#bound = this.#clock.setTimeout(() => {
      this.#bound = null;
      this.#end('bound');
    }, this.options.maxHoldMs);
    this.#onEvent({ type: 'started', at: now, reason, restored });
  }

  /** Hysteresis: the held instances make up at most exitShare of every service and of all. */
  #fewHeld(): boolean {
    const { exitShare, minInstances } = this.options;
    const heldByService = new Map<string, number>();
    for (const service of this.#held.values()) heldByService.set(service, (heldByService.get(service) ?? 0) + 1);
    for (const [service, count] of heldByService) {
      const size = this.#census.countOf(service);
      if (size >= minInstances && count > exitShare * size) return false;
    }
    const total = this.#census.total();
    return total < minInstances || this.#held.size <= exitShare * total;
  }

  #end(cause: 'recovered' | 'bound'): void {
    this.close();
    const stillCritical = [...this.#held.keys()].filter((id) => this.#census.isCritical(id));
    this.#held.clear();
    // The wave that started it must not start it again.
    this.#window = [];
    this.#since = null;
    this.#reason = null;
    this.#onEvent({ type: 'ended', at: this.#clock.now(), cause, stillCritical });
  }
}
