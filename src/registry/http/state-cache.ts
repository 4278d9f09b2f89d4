// The whole catalog as GET /v1/state answers it and as a watch snapshot carries it, serialized
// once per revision and in slices: a catalog of tens of thousands of instances is tens of MB of
// JSON, and serializing it in one go would hold the event loop (every other client) for most of
// a second. The bytes are exactly those of JSON.stringify({ revision, instances }).
import type { ServerResponse } from 'node:http';
import { toView, type InstanceRecord } from '../catalog.js';
import type { Clock, TimerHandle } from '../../shared/clock.js';

/** What a state needs of a registry: a single Registry and a cluster node both fit. */
export interface StateSource {
  readonly revision: number;
  instances(): InstanceRecord[];
}

/** A serialized state: the bytes of `{"revision":…,"instances":[…]}`, in order. */
export interface SerializedState {
  readonly revision: number;
  readonly chunks: readonly Buffer[];
  /** The chunks' total length, for Content-Length. */
  readonly bytes: number;
}

/** Text serialized between two yields to the event loop: about a millisecond of work. */
export const STATE_SLICE_CHARS = 32 * 1024;

/**
 * One serialized state per registry, for the current revision. Probe results (last check, its
 * latency and error) change without a revision, so a state is also rebuilt once it is older
 * than MAX_AGE_MS, as the lookup cache does.
 */
export class StateCache {
  static readonly MAX_AGE_MS = 1000;
  readonly #source: StateSource;
  readonly #clock: Clock;
  #current: { revision: number; builtAt: number; state: Promise<SerializedState> } | null = null;

  constructor(source: StateSource, clock: Clock) {
    this.#source = source;
    this.#clock = clock;
  }

  /** The state at the current revision: the one being or already built, or a new one. */
  get(): Promise<SerializedState> {
    const { revision } = this.#source;
    const now = this.#clock.now();
    const current = this.#current;
    if (current && current.revision === revision && now - current.builtAt <= StateCache.MAX_AGE_MS) return current.state;
    const state = serializeState(revision, captureRecords(this.#source.instances()));
    this.#current = { revision, builtAt: now, state };
    return state;
  }
}

// The v1 routes and the watch stream of one registry share its cache, without either having to
// be handed the other's.
const caches = new WeakMap<StateSource, StateCache>();

/** The cache of `source`'s state, made on first use with `clock`. */
export function stateCacheOf(source: StateSource, clock: Clock): StateCache {
  let cache = caches.get(source);
  if (!cache) {
    cache = new StateCache(source, clock);
    caches.set(source, cache);
  }
  return cache;
}

/**
 * The records as they are at one revision. The catalog replaces a record when it is registered
 * again, but changes a few fields in place (Catalog.setHealth, recordCheck, remove) while a state
 * is serialized over many turns of the event loop: those fields are set aside here. Flat arrays
 * rather than a copy of each record: tens of thousands of copies that live until the state is
 * built would make the garbage collector's young-generation pauses last hundreds of ms.
 */
export class CapturedRecords {
  readonly length: number;
  readonly #records: readonly InstanceRecord[];
  /** revision, lastCheckAt, lastCheckMs, criticalSince of each record in turn; NaN for null. */
  readonly #numbers: Float64Array;
  /** health, lastError of each record in turn. */
  readonly #texts: Array<string | null>;

  constructor(records: readonly InstanceRecord[]) {
    this.length = records.length;
    this.#records = records;
    this.#numbers = new Float64Array(records.length * 4);
    // Filled by push: a large array made with new Array(length) is a slow dictionary in V8.
    this.#texts = [];
    const numbers = this.#numbers;
    const texts = this.#texts;
    records.forEach((record, i) => {
      numbers[i * 4] = record.revision;
      numbers[i * 4 + 1] = record.lastCheckAt ?? NaN;
      numbers[i * 4 + 2] = record.lastCheckMs ?? NaN;
      numbers[i * 4 + 3] = record.criticalSince ?? NaN;
      texts.push(record.health, record.lastError);
    });
  }

  /** Record `i` as it was when captured. */
  record(i: number): InstanceRecord {
    const numbers = this.#numbers;
    return {
      ...(this.#records[i] as InstanceRecord),
      revision: numbers[i * 4] as number,
      lastCheckAt: orNull(numbers[i * 4 + 1]),
      lastCheckMs: orNull(numbers[i * 4 + 2]),
      criticalSince: orNull(numbers[i * 4 + 3]),
      health: this.#texts[i * 2] as InstanceRecord['health'],
      lastError: this.#texts[i * 2 + 1] ?? null,
    };
  }
}

function orNull(value: number | undefined): number | null {
  return value === undefined || Number.isNaN(value) ? null : value;
}

/** The records as they are now, for a state serialized later. */
export function captureRecords(records: readonly InstanceRecord[]): CapturedRecords {
  return new CapturedRecords(records);
}

/** Serializes `records` as the state at `revision`, yielding to the event loop between slices. */
export async function serializeState(revision: number, records: CapturedRecords): Promise<SerializedState> {
  const chunks: Buffer[] = [];
  let text = `{"revision":${JSON.stringify(revision)},"instances":[`;
  for (let i = 0; i < records.length; i++) {
    text += (i === 0 ? '' : ',') + JSON.stringify(toView(records.record(i)));
    if (text.length < STATE_SLICE_CHARS) continue;
    chunks.push(Buffer.from(text));
    text = '';
    await nextTurn();
  }
  chunks.push(Buffer.from(`${text}]}`));
  return { revision, chunks, bytes: chunks.reduce((sum, chunk) => sum + chunk.length, 0) };
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export interface WriteChunksOptions {
  clock: Clock;
  /** How long a reader may take nothing before the write gives up (false). */
  patienceMs: number;
}

/**
 * Writes `chunks` in order, each once the reader has taken the previous ones (backpressure):
 * a slow reader holds one chunk of its own, never a copy of the whole state. False when the
 * response closed, or its reader took nothing for `patienceMs`.
 */
export async function writeChunks(out: ServerResponse, chunks: readonly Buffer[], options: WriteChunksOptions): Promise<boolean> {
  for (const chunk of chunks) {
    if (out.destroyed || out.writableEnded) return false;
    if (!out.write(chunk) && !(await drained(out, options))) return false;
  }
  return !out.destroyed;
}

function drained(out: ServerResponse, { clock, patienceMs }: WriteChunksOptions): Promise<boolean> {
  return new Promise((resolve) => {
    let timer: TimerHandle | null = null;
    const done = (ok: boolean): void => {
      out.off('drain', onDrain);
      out.off('close', onClose);
      if (timer !== null) clock.clearTimeout(timer);
      resolve(ok);
    };
    const onDrain = (): void => done(true);
    const onClose = (): void => done(false);
    out.on('drain', onDrain);
    out.on('close', onClose);
    timer = clock.setTimeout(() => done(false), patienceMs);
  });
}
