// The whole catalog as GET /v1/state answers it and as a watch snapshot carries it, assembled
// once per revision from each instance's serialized view: a catalog of tens of thousands of
// instances is tens of MB of JSON, and serializing it in one go would hold the event loop (every
// other client) for most of a second. Each view is serialized once and reused until the catalog
// changes its record, so a new revision serializes only what changed; the state holds references
// to those texts, and a reader turns them into bytes one slice at a time, as its socket takes
// them. The bytes are exactly those of JSON.stringify({ revision, instances }).
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
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
  /** The bytes in slices of about STATE_SLICE_CHARS, each encoded when it is asked for. */
  chunks(): Generator<Buffer>;
  /** The chunks' total length, for Content-Length. */
  readonly bytes: number;
}

/** Text serialized between two yields to the event loop, and sent per chunk: about a millisecond of work. */
export const STATE_SLICE_CHARS = 32 * 1024;

const COMMA = ',';
const STATE_END = ']}';

/** What looking up a view already serialized costs, counted against a slice as that many characters. */
const REUSED_VIEW_COST = 16;

/**
 * One serialized state per registry, for the current revision. Probe results (last check, its
 * latency and error) change without a revision, so a state is also rebuilt once it is older
 * than MAX_AGE_MS, as the lookup cache does; only the records whose probe results changed are
 * serialized again.
 */
export class StateCache {
  static readonly MAX_AGE_MS = 1000;
  readonly #source: StateSource;
  readonly #clock: Clock;
  readonly #views: ViewCache;
  #current: { revision: number; builtAt: number; state: Promise<SerializedState> } | null = null;

  constructor(source: StateSource, clock: Clock, views: ViewCache = sharedViews) {
    this.#source = source;
    this.#clock = clock;
    this.#views = views;
  }

  /** The state at the current revision: the one being or already built, or a new one. */
  get(): Promise<SerializedState> {
    const { revision } = this.#source;
    const now = this.#clock.now();
    const current = this.#current;
    if (current && current.revision === revision && now - current.builtAt <= StateCache.MAX_AGE_MS) return current.state;
    const state = serializeState(revision, captureRecords(this.#source.instances()), this.#views);
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

/** A record's view as JSON text, with its length in bytes. */
export interface SerializedView {
  readonly json: string;
  readonly bytes: number;
}

/** The fields the catalog changes in place, as they were when a view was serialized. */
interface CachedView extends SerializedView {
  readonly revision: number;
  readonly health: string;
  readonly lastCheckAt: number | null;
  readonly lastCheckMs: number | null;
  readonly lastError: string | null;
  readonly criticalSince: number | null;
  readonly maintenance: InstanceRecord['maintenance'];
}

/**
 * Each record's serialized view, kept as long as the record lives. The catalog replaces a record
 * when it is registered again and changes the rest in place (health, probe results, maintenance,
 * removal): a view is reused only while those fields are what they were when it was serialized.
 */
export class ViewCache {
  readonly #views = new WeakMap<InstanceRecord, CachedView>();
  readonly #serialize: (record: InstanceRecord) => string;

  /** `serialize` turns a record into its view's JSON; tests count its calls. */
  constructor(serialize: (record: InstanceRecord) => string = (record) => JSON.stringify(toView(record))) {
    this.#serialize = serialize;
  }

  /** Record `i` of `records` serialized as it was captured, and whether it had to be serialized now. */
  view(records: CapturedRecords, i: number): { view: SerializedView; fresh: boolean } {
    const original = records.original(i);
    const cached = this.#views.get(original);
    if (cached && records.matches(i, cached)) return { view: cached, fresh: false };
    const record = records.record(i);
    const json = this.#serialize(record);
    const view: CachedView = {
      json,
      bytes: Buffer.byteLength(json),
      revision: record.revision,
      health: record.health,
      lastCheckAt: record.lastCheckAt,
      lastCheckMs: record.lastCheckMs,
      lastError: record.lastError,
      criticalSince: record.criticalSince,
      maintenance: record.maintenance,
    };
    this.#views.set(original, view);
    return { view, fresh: true };
  }
}

/** Shared by every registry in the process: records are never shared between registries. */
const sharedViews = new ViewCache();

/**
 * The records as they are at one revision. The catalog replaces a record when it is registered
 * again, but changes a few fields in place (Catalog.setHealth, recordCheck, remove, maintenance)
 * while a state is assembled over many turns of the event loop: those fields are set aside here.
 * Flat arrays rather than a copy of each record: tens of thousands of copies that live until the
 * state is built would make the garbage collector's young-generation pauses last hundreds of ms.
 */
export class CapturedRecords {
  readonly length: number;
  readonly #records: readonly InstanceRecord[];
  /** revision, lastCheckAt, lastCheckMs, criticalSince of each record in turn; NaN for null. */
  readonly #numbers: Float64Array;
  /** health, lastError of each record in turn. */
  readonly #texts: Array<string | null>;
  readonly #maintenance: Array<InstanceRecord['maintenance']>;

  constructor(records: readonly InstanceRecord[]) {
    this.length = records.length;
    this.#records = records;
    this.#numbers = new Float64Array(records.length * 4);
    // Filled by push: a large array made with new Array(length) is a slow dictionary in V8.
    this.#texts = [];
    this.#maintenance = [];
    const numbers = this.#numbers;
    const texts = this.#texts;
    const maintenance = this.#maintenance;
    records.forEach((record, i) => {
      numbers[i * 4] = record.revision;
      numbers[i * 4 + 1] = record.lastCheckAt ?? NaN;
      numbers[i * 4 + 2] = record.lastCheckMs ?? NaN;
      numbers[i * 4 + 3] = record.criticalSince ?? NaN;
      texts.push(record.health, record.lastError);
      maintenance.push(record.maintenance);
    });
  }

  /** The record object itself, whose fields may have changed since it was captured. */
  original(i: number): InstanceRecord {
    return this.#records[i] as InstanceRecord;
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
      maintenance: this.#maintenance[i] ?? null,
    };
  }

  /** Whether record `i` was captured with the in-place fields `fields` holds. */
  matches(i: number, fields: Omit<CachedView, 'json' | 'bytes'>): boolean {
    const numbers = this.#numbers;
    return (
      numbers[i * 4] === fields.revision &&
      orNull(numbers[i * 4 + 1]) === fields.lastCheckAt &&
      orNull(numbers[i * 4 + 2]) === fields.lastCheckMs &&
      orNull(numbers[i * 4 + 3]) === fields.criticalSince &&
      this.#texts[i * 2] === fields.health &&
      (this.#texts[i * 2 + 1] ?? null) === fields.lastError &&
      (this.#maintenance[i] ?? null) === fields.maintenance
    );
  }
}

function orNull(value: number | undefined): number | null {
  return value === undefined || Number.isNaN(value) ? null : value;
}

/** The records as they are now, for a state serialized later. */
export function captureRecords(records: readonly InstanceRecord[]): CapturedRecords {
  return new CapturedRecords(records);
}

/**
 * Assembles `records` as the state at `revision` from their serialized views, serializing the
 * ones not cached and yielding to the event loop after each slice of work.
 */
export async function serializeState(revision: number, records: CapturedRecords, views: ViewCache = sharedViews): Promise<SerializedState> {
  const head = `{"revision":${JSON.stringify(revision)},"instances":[`;
  const pieces: string[] = [head];
  let bytes = Buffer.byteLength(head) + STATE_END.length;
  let work = 0;
  for (let i = 0; i < records.length; i++) {
    const { view, fresh } = views.view(records, i);
    if (i > 0) pieces.push(COMMA);
    pieces.push(view.json);
    bytes += view.bytes + (i > 0 ? 1 : 0);
    work += fresh ? view.json.length : REUSED_VIEW_COST;
    if (work < STATE_SLICE_CHARS) continue;
    work = 0;
    await nextTurn();
  }
  pieces.push(STATE_END);
  return { revision, bytes, chunks: () => slices(pieces) };
}

/**
 * `pieces` in order, joined into Buffers of about STATE_SLICE_CHARS, each made when asked for:
 * a reader holds one slice at a time, never a copy of the whole state. One join and one encoding
 * per slice: copying thousands of small buffers one by one costs several times more.
 */
function* slices(pieces: readonly string[]): Generator<Buffer> {
  let slice: string[] = [];
  let length = 0;
  for (const piece of pieces) {
    slice.push(piece);
    length += piece.length;
    if (length < STATE_SLICE_CHARS) continue;
    yield Buffer.from(slice.join(''));
    slice = [];
    length = 0;
  }
  if (length > 0) yield Buffer.from(slice.join(''));
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
 * Writes `chunks` in order, each once the reader has taken the previous ones (backpressure), a
 * turn of the event loop apart:
 * a slow reader holds one chunk of its own, never a copy of the whole state. False when the
 * response closed, or its reader took nothing for `patienceMs`.
 */
export async function writeChunks(out: ServerResponse, chunks: Iterable<Buffer>, options: WriteChunksOptions): Promise<boolean> {
  let first = true;
  for (const chunk of chunks) {
    // A socket that takes every chunk at once would otherwise be sent the whole state in one go.
    if (!first) await nextTurn();
    first = false;
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

/**
 * `chunks` as a stream for a reply to send, each chunk made when the response has taken the
 * previous ones. A reader that takes nothing for `patienceMs` (a chunk not asked for, or the last
 * ones not flushed) is cut, as a watch stream's is: otherwise it would keep its revision's views
 * and its connection for as long as it likes. `onCut` hears of each cut.
 */
export function patientStream(out: ServerResponse, chunks: Iterator<Buffer>, { clock, patienceMs }: WriteChunksOptions, onCut: () => void = () => {}): Readable {
  let timer: TimerHandle | null = null;
  const stop = (): void => {
    if (timer !== null) clock.clearTimeout(timer);
    timer = null;
  };
  const cut = (): void => {
    timer = null;
    onCut();
    body.destroy();
    out.destroy();
  };
  const body = new Readable({
    read() {
      stop();
      timer = clock.setTimeout(cut, patienceMs);
      // A turn of the event loop per chunk: a reader that takes everything at once (a socket
      // that never fills) would otherwise be sent the whole state in one go.
      setImmediate(() => {
        if (body.destroyed) return;
        const next = chunks.next();
        body.push(next.done ? null : next.value);
      });
    },
  });
  out.once('finish', stop);
  out.once('close', stop);
  return body;
}
