// The client's view of its required services: provider URLs per service, and the choice of one.
// Each view is an insertion-ordered Set, so that applying a patch costs time linear in the patch,
// whatever the size of the view.
import type { PatchEntry } from '../protocol/index.js';
import type { Strategy } from './options.js';

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
  readonly #turns = new Map<string, number>();
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

  /** One provider by the strategy, or undefined when there is none. */
  pick(service: string): string | undefined {
    const urls = this.#array(service);
    if (urls.length === 0) return undefined;
    if (this.#strategy === 'random') return urls[Math.floor(this.#random() * urls.length)];
    const turn = this.#turns.get(service) ?? 0;
    this.#turns.set(service, turn + 1);
    return urls[turn % urls.length];
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
