// The recent history of the catalog: the last N changes, so that a watcher that reconnects with
// the revision it last saw gets what it missed instead of the whole catalog again.
import { z } from 'zod';
import { registryStopping } from '../protocol/errors.js';
import { resolveOptions, wholeNumber } from '../shared/options.js';
import type { InstanceView } from '../protocol/v1.js';
import type { WatchChange, WatchChangeType } from '../protocol/watch.js';
import { type InstanceRecord, toView } from './catalog.js';
import type { RegistryChange } from './registry.js';

/** What the change log needs of a registry: a single Registry and a cluster node both fit. */
export interface ChangeSource {
  readonly revision: number;
  on(event: 'change', listener: (change: RegistryChange) => void): unknown;
  off(event: 'change', listener: (change: RegistryChange) => void): unknown;
}

/** One change as watchers see it: the instance as it was right after the change. */
export class LoggedChange implements WatchChange {
  readonly revision: number;
  readonly type: WatchChangeType;
  /** A copy: the catalog's record changes again later (health, probe times) in place. */
  readonly #record: InstanceRecord;
  #view: InstanceView | undefined;

  constructor(change: RegistryChange) {
    this.revision = change.revision;
    this.type = change.type;
    this.#record = { ...change.instance };
  }

  /** Built on first use: with no watcher, most changes are never looked at. */
  get instance(): InstanceView {
    this.#view ??= toView(this.#record);
    return this.#view;
  }

  /** What the watch stream sends as a change event's data. */
  toJSON(): WatchChange {
    return { revision: this.revision, type: this.type, instance: this.instance };
  }
}

export const DEFAULT_CHANGE_LOG_CAPACITY = 1000;

export const changeLogOptionsSchema = z.strictObject({
  /** How many changes are kept. */
  capacity: wholeNumber(1).default(DEFAULT_CHANGE_LOG_CAPACITY),
});

export type ChangeLogOptions = z.input<typeof changeLogOptionsSchema>;

/** The change log's options, defaults filled in; `path` is where the caller wrote them ("changeLog"). */
export function resolveChangeLogOptions(input: ChangeLogOptions | undefined, path?: string): Readonly<z.output<typeof changeLogOptionsSchema>> {
  return resolveOptions(changeLogOptionsSchema, input, { owner: 'the change log', path });
}

export class ChangeLog {
  readonly capacity: number;
  readonly #registry: ChangeSource;
  readonly #changes: LoggedChange[] = [];
  readonly #listeners = new Set<(change: LoggedChange) => void>();
  /** Every change after this revision is in the log; older ones fell out (or came before us). */
  #complete: number;
  #closed = false;

  constructor(registry: ChangeSource, options: ChangeLogOptions = {}) {
    this.capacity = resolveChangeLogOptions(options).capacity;
    this.#registry = registry;
    this.#complete = registry.revision;
    registry.on('change', this.#record);
  }

  /** The changes after `revision`, oldest first; null when some of them are no longer kept. */
  since(revision: number): LoggedChange[] | null {
    // A revision ahead of ours comes from another registry (or one that restarted): start over.
    if (revision < this.#complete || revision > this.#registry.revision) return null;
    return this.#changes.filter((change) => change.revision > revision);
  }

  /**
   * Calls `listener` with every change from now on; returns the function that stops it.
   * Refused with REGISTRY_STOPPING once the log is closed: no change would ever come.
   */
  subscribe(listener: (change: LoggedChange) => void): () => void {
    if (this.#closed) throw registryStopping();
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Stops recording and drops every subscriber. Idempotent; the changes kept stay readable. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#registry.off('change', this.#record);
    this.#listeners.clear();
  }

  // An arrow function, so that close() can remove exactly this listener.
  readonly #record = (change: RegistryChange): void => {
    const logged = new LoggedChange(change);
    this.#changes.push(logged);
    if (this.#changes.length > this.capacity) this.#complete = this.#changes.shift()!.revision;
    for (const listener of [...this.#listeners]) listener(logged);
  };
}
