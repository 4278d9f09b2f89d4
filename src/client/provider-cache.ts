// The client's view of its required services: provider URLs per service, and the choice of one.
// Each view is an insertion-ordered Set, so that applying a patch costs time linear in the patch,
// whatever the size of the view.
import type { PatchEntry } from '../protocol/index.js';
import { DEFAULT_WEIGHT, LIMITS } from '../protocol/validation.js';
import type { Strategy } from './options.js';

/** How an instance takes part in picks: read from its metadata (weight, zone, tags). */
export interface Routing {
  weight: number;
  zone: string | null;
  tags: readonly string[];
}

/** What provider() narrows the pick by; the strategy overrides the client's. */
export interface PickFilter {
  tags?: readonly string[];
  zone?: string;
  strategy?: Strategy;
}

export interface Candidate {
  url: string;
  routing: Routing;
}

/** An instance known only by its URL (a patch carries no metadata, nor does the course's registry). */
export const DEFAULT_ROUTING: Routing = Object.freeze({ weight: DEFAULT_WEIGHT, zone: null, tags: Object.freeze([]) });

/** Routing from metadata as the registry holds it; anything malformed (older data) counts as absent. */
export function routingOf(metadata: unknown): Routing {
  const { weight, zone, tags } = (typeof metadata === 'object' && metadata !== null ? metadata : {}) as Record<string, unknown>;
  return {
    weight: Number.isInteger(weight) && (weight as number) >= 0 && (weight as number) <= LIMITS.maxWeight ? (weight as number) : DEFAULT_WEIGHT,
    zone: typeof zone === 'string' && zone !== '' ? zone : null,
    tags: Array.isArray(tags) ? tags.filter((tag): tag is string => typeof tag === 'string') : [],
  };
}

/** Weighted random: `draw` in [0, 1) falls in one candidate's share of the total weight. */
export function pickWeighted(candidates: readonly Candidate[], draw: number): string | undefined {
  const total = candidates.reduce((sum, candidate) => sum + candidate.routing.weight, 0);
  let point = draw * total;
  for (const candidate of candidates) {
    point -= candidate.routing.weight;
    if (point < 0) return candidate.url;
  }
  return candidates.at(-1)?.url;
}

/** What changed for one service, as a net difference. */
export interface ServiceChange {
  service: string;
  added: string[];
  removed: string[];
}

interface Delta {
  added: Set<string>;
  removed: Set<string>;
}

export class ProviderCache {
  readonly #views = new Map<string, Set<string>>();
  /** The views as arrays for pick(), built on demand and dropped when a view changes. */
  readonly #arrays = new Map<string, string[]>();
  /** Smooth weighted round-robin: each service's instances' current scores. */
  readonly #smooth = new Map<string, Map<string, number>>();
  /** Routing per service and URL, kept after an instance leaves the view: a patch that adds it back carries none. */
  readonly #routing = new Map<string, Map<string, Routing>>();
  readonly #strategy: Strategy;
  readonly #random: () => number;

  constructor(required: readonly string[], strategy: Strategy, random: () => number = Math.random) {
    for (const name of required) this.#views.set(name, new Set());
    this.#strategy = strategy;
    this.#random = random;
  }

  requires(service: string): boolean {
    return this.#views.has(service);
  }

  list(service: string): string[] {
    return [...this.#array(service)];
  }

  /**
   * One provider, or undefined when none is passing, none carries every tag asked for, or all that
   * do weigh 0. Instances in the caller's zone go first when any of them qualifies.
   */
  pick(service: string, filter: PickFilter = {}): string | undefined {
    const candidates = this.#candidates(service, filter);
    if (candidates.length === 0) return undefined;
    const strategy = filter.strategy ?? this.#strategy;
    if (strategy === 'random') return candidates[Math.floor(this.#random() * candidates.length)]?.url;
    if (strategy === 'weighted') return pickWeighted(candidates, this.#random());
    return this.#nextTurn(service, candidates);
  }

  /** What routing knows of an instance: from its metadata when a view of it came, else the defaults. */
  routing(service: string, url: string): Routing {
    return this.#routing.get(service)?.get(url) ?? DEFAULT_ROUTING;
  }

  /** Records the routing of instances whose metadata came (registration answer, state, watch). */
  learn(instances: Iterable<{ service: string; url: string; metadata?: unknown }>): void {
    for (const { service, url, metadata } of instances) {
      if (!this.#views.has(service)) continue;
      let known = this.#routing.get(service);
      if (!known) this.#routing.set(service, (known = new Map()));
      known.set(url, routingOf(metadata));
      this.#smooth.delete(service);
    }
  }

  /** Passing instances that carry every tag and weigh more than 0; those of the zone alone when there are any. */
  #candidates(service: string, { tags = [], zone }: PickFilter): Candidate[] {
    const eligible: Candidate[] = [];
    for (const url of this.#array(service)) {
      const routing = this.routing(service, url);
      if (routing.weight > 0 && tags.every((tag) => routing.tags.includes(tag))) eligible.push({ url, routing });
    }
    if (zone === undefined) return eligible;
    const local = eligible.filter((candidate) => candidate.routing.zone === zone);
    return local.length > 0 ? local : eligible;
  }

  /**
   * Smooth weighted round-robin (as nginx does it): each turn every candidate gains its weight and
   * the heaviest, which then loses the total, is picked. Equal weights give plain round-robin, in
   * order; 5 and 1 give a a b a a a rather than five a in a row. Restarts when the view changes.
   */
  #nextTurn(service: string, candidates: readonly Candidate[]): string {
    let current = this.#smooth.get(service);
    if (!current) this.#smooth.set(service, (current = new Map()));
    let total = 0;
    let best: Candidate = candidates[0] as Candidate;
    let bestScore = -Infinity;
    for (const candidate of candidates) {
      const score = (current.get(candidate.url) ?? 0) + candidate.routing.weight;
      current.set(candidate.url, score);
      total += candidate.routing.weight;
      if (score > bestScore) [best, bestScore] = [candidate, score];
    }
    current.set(best.url, bestScore - total);
    return best.url;
  }

  /** Applies a patch's entries; services this client does not require are ignored. */
  apply(added: readonly PatchEntry[], removed: readonly PatchEntry[]): ServiceChange[] {
    const deltas = new Map<string, Delta>();
    const delta = (service: string): Delta => {
      let found = deltas.get(service);
      if (!found) deltas.set(service, (found = { added: new Set(), removed: new Set() }));
      return found;
    };
    // Removed first, so an instance that is both removed and re-added stays listed.
    for (const { Name, URL } of removed) {
      if (!this.#views.get(Name)?.delete(URL)) continue;
      const change = delta(Name);
      if (!change.added.delete(URL)) change.removed.add(URL);
    }
    for (const { Name, URL } of added) {
      const view = this.#views.get(Name);
      if (!view || view.has(URL)) continue;
      view.add(URL);
      const change = delta(Name);
      if (!change.removed.delete(URL)) change.added.add(URL);
    }
    return this.#changes(deltas);
  }

  /** Replaces the view of every required service (missing ones become empty): full state. */
  replace(views: ReadonlyMap<string, readonly string[]>): ServiceChange[] {
    const deltas = new Map<string, Delta>();
    for (const [service, before] of this.#views) {
      const after = new Set(views.get(service) ?? []);
      deltas.set(service, { added: difference(after, before), removed: difference(before, after) });
      this.#views.set(service, after);
    }
    return this.#changes(deltas);
  }

  #changes(deltas: Map<string, Delta>): ServiceChange[] {
    const changes: ServiceChange[] = [];
    for (const [service, { added, removed }] of deltas) {
      this.#arrays.delete(service);
      this.#smooth.delete(service);
      if (added.size > 0 || removed.size > 0) changes.push({ service, added: [...added], removed: [...removed] });
    }
    return changes;
  }

  #array(service: string): string[] {
    let urls = this.#arrays.get(service);
    if (!urls) {
      urls = [...(this.#views.get(service) ?? [])];
      if (this.#views.has(service)) this.#arrays.set(service, urls);
    }
    return urls;
  }
}

function difference(a: ReadonlySet<string>, b: ReadonlySet<string>): Set<string> {
  const result = new Set<string>();
  for (const value of a) if (!b.has(value)) result.add(value);
  return result;
}
