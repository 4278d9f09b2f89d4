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

/** Distinct filters remembered per service before they are all forgotten. */
const MAX_FILTERS_PER_SERVICE = 64;

/** The candidates of one filter, with what each strategy needs to pick among them quickly. */
export interface CandidateSet {
  list: readonly Candidate[];
  /** Running sums of the weights, for a weighted draw by binary search. */
  cumulative: number[];
  /** Smooth weighted round-robin scores, by position in `list`. */
  scores: number[];
  /** Plain round-robin's next position, used when all weights are equal. */
  turn: number;
  equalWeights: boolean;
}

export function candidateSet(list: readonly Candidate[]): CandidateSet {
  const cumulative: number[] = [];
  let total = 0;
  for (const candidate of list) cumulative.push((total += candidate.routing.weight));
  const equalWeights = list.every((candidate) => candidate.routing.weight === list[0]?.routing.weight);
  return { list, cumulative, scores: list.map(() => 0), turn: 0, equalWeights };
}

/** Weighted random: `draw` in [0, 1) falls in one candidate's share of the total weight. */
export function pickWeighted(set: CandidateSet, draw: number): string | undefined {
  const point = draw * (set.cumulative.at(-1) ?? 0);
  // The first running sum above the point.
  let low = 0;
  let high = set.list.length - 1;
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((set.cumulative[middle] as number) > point) high = middle;
    else low = middle + 1;
  }
  return set.list[low]?.url;
}

/**
 * Smooth weighted round-robin (as nginx does it): each turn every candidate gains its weight and
 * the heaviest, which then loses the total, is picked. Equal weights give plain round-robin, in
 * order (taken as a turn counter: O(1)); 5 and 1 give a a a b a a rather than five a in a row.
 * Restarts when the view changes.
 */
export function nextTurn(set: CandidateSet): string {
  const { list, scores } = set;
  if (set.equalWeights) return (list[set.turn++ % list.length] as Candidate).url;
  let best = 0;
  for (let i = 0; i < list.length; i++) {
    scores[i] = (scores[i] as number) + (list[i] as Candidate).routing.weight;
    if ((scores[i] as number) > (scores[best] as number)) best = i;
  }
  scores[best] = (scores[best] as number) - (set.cumulative.at(-1) as number);
  return (list[best] as Candidate).url;
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
  /** Per service, the candidates of each filter asked for; dropped when the view or a routing changes. */
  readonly #sets = new Map<string, Map<string, CandidateSet>>();
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
    const set = this.#candidates(service, filter);
    if (set.list.length === 0) return undefined;
    const strategy = filter.strategy ?? this.#strategy;
    if (strategy === 'random') return set.list[Math.floor(this.#random() * set.list.length)]?.url;
    if (strategy === 'weighted') return pickWeighted(set, this.#random());
    return nextTurn(set);
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
      this.#sets.delete(service);
    }
  }

  /** The candidates of one filter, built once per view (a pick is then O(1), or O(log n) weighted). */
  #candidates(service: string, filter: PickFilter): CandidateSet {
    let sets = this.#sets.get(service);
    if (!sets) this.#sets.set(service, (sets = new Map()));
    const key = JSON.stringify([filter.tags ?? [], filter.zone ?? null]);
    let set = sets.get(key);
    if (!set) {
      // Callers name a few filters; a flood of distinct ones must not grow memory without bound.
      if (sets.size >= MAX_FILTERS_PER_SERVICE) sets.clear();
      sets.set(key, (set = candidateSet(this.#eligible(service, filter))));
    }
    return set;
  }

  /** Passing instances that carry every tag and weigh more than 0; those of the zone alone when there are any. */
  #eligible(service: string, { tags = [], zone }: PickFilter): Candidate[] {
    const eligible: Candidate[] = [];
    for (const url of this.#array(service)) {
      const routing = this.routing(service, url);
      if (routing.weight > 0 && tags.every((tag) => routing.tags.includes(tag))) eligible.push({ url, routing });
    }
    if (zone === undefined) return eligible;
    const local = eligible.filter((candidate) => candidate.routing.zone === zone);
    return local.length > 0 ? local : eligible;
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
      this.#sets.delete(service);
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
