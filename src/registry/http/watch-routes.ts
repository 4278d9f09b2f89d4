// GET /v1/watch: the catalog's changes as Server-Sent Events (docs/api.md), for watchers that
// cannot take inbound calls (CLIs, browsers, services behind NAT).
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseOrThrow, serviceName } from '../../protocol/validation.js';
import type { WatchEvent } from '../../protocol/watch.js';
import type { InstanceRecord } from '../catalog.js';
import type { ChangeLog, LoggedChange } from '../change-log.js';
import { systemClock, type Clock, type TimerHandle } from '../../shared/clock.js';
import { limitReached } from '../../protocol/errors.js';
import { DEFAULT_LIMITS, LimitRejections, type RegistryLimits } from '../limits.js';
import { captureRecords, serializeState, stateCacheOf, writeChunks, type SerializedState } from './state-cache.js';

/** What a snapshot needs of a registry: a single Registry and a cluster node both fit. */
export interface SnapshotSource {
  readonly revision: number;
  instances(): InstanceRecord[];
}

export interface WatchRoutesOptions {
  /** Time between keep-alive comments, so that proxies and clients see a live connection. */
  keepAliveMs?: number;
  /**
   * Open streams in total and per credential, and the bytes a stream's reader may leave untaken
   * before it is cut (it reconnects with Last-Event-ID). Default: DEFAULT_LIMITS.
   */
  limits?: WatchLimits;
  /** Counts refused and cut streams by limit, for /metrics. */
  rejections?: LimitRejections;
  clock?: Clock;
}

export type WatchLimits = Pick<RegistryLimits, 'maxWatchStreams' | 'maxWatchStreamsPerCredential' | 'watchBacklogBytes'>;

export interface WatchRoutes {
  /** Register under the /v1 prefix: `app.register(watch.plugin, { prefix: '/v1' })`. */
  readonly plugin: FastifyPluginAsync;
  /** Streams currently open. */
  readonly openStreams: number;
}

export const DEFAULT_WATCH_KEEP_ALIVE_MS = 15_000;

const revision = z.string().regex(/^\d{1,15}$/, 'must be a revision (a whole number ≥ 0)').transform(Number);
const serviceList = z
  .string()
  .transform((value) => value.split(','))
  .pipe(z.array(serviceName).min(1).max(1000));
const watchQuery = z.object({ since: revision.optional(), services: serviceList.optional() });
const watchHeaders = z.object({ 'last-event-id': revision.optional() });

interface WatchRequest {
  since: number | undefined;
  services: ReadonlySet<string> | null;
}

export function watchRoutes(registry: SnapshotSource, changeLog: ChangeLog, options: WatchRoutesOptions = {}): WatchRoutes {
  const settings = {
    keepAliveMs: options.keepAliveMs ?? DEFAULT_WATCH_KEEP_ALIVE_MS,
    limits: options.limits ?? DEFAULT_LIMITS,
    rejections: options.rejections ?? new LimitRejections(),
    clock: options.clock ?? systemClock,
  };
  const open = new Set<WatchStream>();
  const admission = new StreamAdmission(settings.limits, settings.rejections);

  const plugin: FastifyPluginAsync = async (app: FastifyInstance) => {
    app.get('/watch', { config: { access: 'read' } }, async (request, reply) => {
      const watch = parseWatchRequest(request);
      // Refused (429) before the stream starts: nothing is held for a stream over a limit.
      const release = admission.admit(watcherOf(request), open.size);
      reply.hijack();
      const stream = new WatchStream(reply.raw, watch.services, settings, () => {
        open.delete(stream);
        release();
      });
      open.add(stream);
      stream.start(registry, changeLog, watch.since);
    });
    // Open streams never end by themselves: end them, or closing the server would wait forever.
    app.addHook('preClose', async () => {
      for (const stream of [...open]) stream.end();
    });
  };

  return {
    plugin,
    get openStreams() {
      return open.size;
    },
  };
}

/** Validates the query before the stream starts, so that bad input is a 400 with a JSON body. */
function parseWatchRequest(request: FastifyRequest): WatchRequest {
  const query = parseOrThrow(watchQuery, request.query, 'query');
  const headers = parseOrThrow(watchHeaders, request.headers, 'header');
  // On reconnect EventSource resends the original URL with Last-Event-ID: the header is newer.
  const since = headers['last-event-id'] ?? query.since;
  return { since, services: query.services ? new Set(query.services) : null };
}

/** Who a stream counts against: its credential, or its source address without one. */
function watcherOf(request: FastifyRequest): string {
  return request.principal ? `credential "${request.principal.name}"` : `address ${request.ip}`;
}

/** Open streams per watcher, against the limits in total and per credential. */
class StreamAdmission {
  readonly #limits: WatchLimits;
  readonly #rejections: LimitRejections;
  readonly #perWatcher = new Map<string, number>();

  constructor(limits: WatchLimits, rejections: LimitRejections) {
    this.#limits = limits;
    this.#rejections = rejections;
  }

  /** Counts a new stream of `watcher` (LIMIT_REACHED when over a limit); returns its release. */
  admit(watcher: string, openStreams: number): () => void {
    const own = this.#perWatcher.get(watcher) ?? 0;
    if (openStreams >= this.#limits.maxWatchStreams) this.#refuse('maxWatchStreams', `the registry has ${openStreams} open watch streams`);
    if (own >= this.#limits.maxWatchStreamsPerCredential) this.#refuse('maxWatchStreamsPerCredential', `${watcher} has ${own} open watch streams`);
    this.#perWatcher.set(watcher, own + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#perWatcher.get(watcher) ?? 1) - 1;
      if (left > 0) this.#perWatcher.set(watcher, left);
      else this.#perWatcher.delete(watcher);
    };
  }

  #refuse(limit: 'maxWatchStreams' | 'maxWatchStreamsPerCredential', what: string): never {
    this.#rejections.count(limit);
    throw limitReached(limit, this.#limits[limit], what);
  }
}

/** One client's stream: the start (snapshot or missed changes), live changes, keep-alives. */
class WatchStream {
  readonly #raw: ServerResponse;
  readonly #services: ReadonlySet<string> | null;
  readonly #settings: Required<WatchRoutesOptions>;
  readonly #onEnd: () => void;
  #unsubscribe: () => void = () => {};
  #keepAlive: TimerHandle | null = null;
  #lastSent = -1;
  #ended = false;
  /** While the missed changes are written (at most the change log's capacity), the backlog waits. */
  #catchingUp = false;

  constructor(raw: ServerResponse, services: ReadonlySet<string> | null, settings: Required<WatchRoutesOptions>, onEnd: () => void) {
    this.#raw = raw;
    this.#services = services;
    this.#settings = settings;
    this.#onEnd = onEnd;
  }

  start(registry: SnapshotSource, changeLog: ChangeLog, since: number | undefined): void {
    this.#raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      // Proxies such as nginx would otherwise hold events back in their buffers.
      'x-accel-buffering': 'no',
    });
    this.#raw.flushHeaders();
    this.#raw.on('close', () => this.#cleanUp());
    this.#raw.on('error', () => this.#cleanUp());
    // The client may have gone while the request was parsed: its 'close' has come and gone.
    if (!this.#raw.socket || this.#raw.socket.destroyed) return this.#cleanUp();
    const missed = since === undefined ? null : changeLog.since(since);
    if (missed === null) void this.#sendSnapshot(registry, changeLog).catch(() => this.#cut());
    else this.#follow(changeLog, missed);
  }

  /** Ends the stream; its client may reconnect. Idempotent. */
  end(): void {
    this.#raw.end();
    this.#cleanUp();
  }

  /** Sends `missed`, then every change as it comes, with keep-alives between. */
  #follow(changeLog: ChangeLog, missed: readonly LoggedChange[]): void {
    // All synchronous: no change can slip in between the missed ones and the subscription.
    // Written in one go, they have not reached the socket yet: judged by the next write.
    this.#catchingUp = true;
    missed.forEach((change) => this.#sendChange(change));
    this.#catchingUp = false;
    this.#unsubscribe = changeLog.subscribe((change) => this.#sendChange(change));
    this.#scheduleKeepAlive();
  }

  /**
   * The catalog (or the wanted services' part of it) as one event, serialized in slices and
   * written chunk by chunk as the reader takes them; then what changed meanwhile, from the log.
   */
  async #sendSnapshot(registry: SnapshotSource, changeLog: ChangeLog): Promise<void> {
    const state = await this.#snapshotState(registry);
    const head = Buffer.from(`event: snapshot\nid: ${state.revision}\ndata: `);
    const patience = { clock: this.#settings.clock, patienceMs: this.#settings.keepAliveMs };
    const written = await writeChunks(this.#raw, snapshotChunks(head, state), patience);
    if (this.#ended) return;
    // A reader that took nothing for a keep-alive interval is cut; it resumes from a new snapshot.
    if (!written) return this.#cut();
    this.#lastSent = state.revision;
    const missed = changeLog.closed ? null : changeLog.since(state.revision);
    // More changes came meanwhile than the log keeps: the client reconnects and starts again.
    if (missed === null) return this.end();
    this.#follow(changeLog, missed);
  }

  /** The whole catalog's state is shared by every reader at its revision; a filtered one is this stream's. */
  #snapshotState(registry: SnapshotSource): Promise<SerializedState> {
    if (this.#services === null) return stateCacheOf(registry, this.#settings.clock).get();
    const wanted = registry.instances().filter((i) => this.#wants(i.service));
    return serializeState(registry.revision, captureRecords(wanted));
  }

  #cut(): void {
    this.#raw.destroy();
    this.#cleanUp();
  }

  #sendChange(change: LoggedChange): void {
    if (this.#ended || change.revision <= this.#lastSent || !this.#wants(change.instance.service)) return;
    this.#lastSent = change.revision;
    this.#write(changeFrame(change));
  }

  #wants(service: string): boolean {
    return this.#services === null || this.#services.has(service);
  }

  #write(text: string): void {
    this.#raw.write(text);
    // writableLength: the bytes of this response and its socket that the reader has not taken.
    // A reader this slow would make us hold its backlog without bound: cut it; it reconnects
    // with Last-Event-ID and catches up from the change log (or a snapshot).
    if (!this.#catchingUp && this.#raw.writableLength > this.#settings.limits.watchBacklogBytes) {
      this.#settings.rejections.count('watchBacklogBytes');
      this.#cut();
    }
  }

  #scheduleKeepAlive(): void {
    this.#keepAlive = this.#settings.clock.setTimeout(() => {
      this.#write(': keep-alive\n\n');
      this.#scheduleKeepAlive();
    }, this.#settings.keepAliveMs);
  }

  #cleanUp(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#unsubscribe();
    if (this.#keepAlive !== null) this.#settings.clock.clearTimeout(this.#keepAlive);
    this.#keepAlive = null;
    this.#onEnd();
  }
}

const SNAPSHOT_END = Buffer.from('\n\n');

function* snapshotChunks(head: Buffer, state: SerializedState): Generator<Buffer> {
  yield head;
  yield* state.chunks();
  yield SNAPSHOT_END;
}

function frame(id: number, { event, data }: WatchEvent): string {
  return `event: ${event}\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** A change goes to every stream that wants it: serialize it once, not once per stream. */
const changeFrames = new WeakMap<LoggedChange, string>();

function changeFrame(change: LoggedChange): string {
  let text = changeFrames.get(change);
  if (text === undefined) {
    text = frame(change.revision, { event: 'change', data: change });
    changeFrames.set(change, text);
  }
  return text;
}
