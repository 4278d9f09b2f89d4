// The client's view of its required services: provider URLs per service, and the choice of one.
import type { PatchEntry } from '../protocol/index.js';
import type { Strategy } from './options.js';

/** What changed for one service, as a net difference. */
export interface ServiceChange {
  service: string;
  added: string[];
  removed: string[];
}

export class ProviderCache {
  readonly #views = new Map<string, string[]>();
  readonly #turns = new Map<string, number>();
  readonly #strategy: Strategy;
  readonly #random: () => number;

  constructor(required: readonly string[], strategy: Strategy, random: () => number = Math.random) {
    for (const name of required) this.#views.set(name, []);
    this.#strategy = strategy;
    this.#random = random;
  }

  requires(service: string): boolean {
    return this.#views.has(service);
  }

  list(service: string): string[] {
    return [...(this.#views.get(service) ?? [])];
  }

  /** One provider by the strategy, or undefined when there is none. */
  pick(service: string): string | undefined {
    const urls = this.#views.get(service) ?? [];
    if (urls.length === 0) return undefined;
    if (this.#strategy === 'random') return urls[Math.floor(this.#random() * urls.length)];
    const turn = this.#turns.get(service) ?? 0;
    this.#turns.set(service, turn + 1);
    return urls[turn % urls.length];
  }

  /** Applies a patch's entries; services this client does not require are ignored. */
  apply(added: readonly PatchEntry[], removed: readonly PatchEntry[]): ServiceChange[] {
    const next = new Map<string, string[]>();
    const draft = (name: string): string[] | undefined => {
      if (!this.#views.has(name)) return undefined;
      if (!next.has(name)) next.set(name, this.list(name));
      return next.get(name);
    };
    // Removed first, so an instance that is both removed and re-added stays listed.
    for (const { Name, URL } of removed) {
      const urls = draft(Name);
      if (urls?.includes(URL)) urls.splice(urls.indexOf(URL), 1);
    }
    for (const { Name, URL } of added) {
      const urls = draft(Name);
      if (urls && !urls.includes(URL)) urls.push(URL);
    }
    return this.#commit(next);
  }

  /** Replaces the view of every required service (missing ones become empty): full state. */
  replace(views: ReadonlyMap<string, readonly string[]>): ServiceChange[] {
    const next = new Map<string, string[]>();
    for (const name of this.#views.keys()) next.set(name, [...new Set(views.get(name) ?? [])]);
    return this.#commit(next);
  }

  #commit(next: Map<string, string[]>): ServiceChange[] {
    const changes: ServiceChange[] = [];
    for (const [service, after] of next) {
      const before = this.#views.get(service) ?? [];
      const added = after.filter((url) => !before.includes(url));
      const removed = before.filter((url) => !after.includes(url));
      this.#views.set(service, after);
      if (added.length > 0 || removed.length > 0) changes.push({ service, added, removed });
    }
    return changes;
  }
}
