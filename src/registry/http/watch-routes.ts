// GET /v1/watch: the catalog's changes as Server-Sent Events (docs/api.md), for watchers that
// cannot take inbound calls (CLIs, browsers, services behind NAT).
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseOrThrow, serviceName } from '../../protocol/validation.js';
import type { InstanceView } from '../../protocol/v1.js';
import type { WatchEvent } from '../../protocol/watch.js';
import { toView, type InstanceRecord } from '../catalog.js';
import type { ChangeLog, LoggedChange } from '../change-log.js';
import { systemClock, type Clock, type TimerHandle } from '../../shared/clock.js';

/** What a snapshot needs of a registry: a single Registry and a cluster node both fit. */
export interface SnapshotSource {
  readonly revision: number;
  instances(): InstanceRecord[];
}

export interface WatchRoutesOptions {
  /** Time between keep-alive comments, so that proxies and clients see a live connection. */
  keepAliveMs?: number;
  /** Events a stream may hold unsent before it is ended (its client reconnects with Last-Event-ID). */
  maxBufferedEvents?: number;
  clock?: Clock;
}

export interface WatchRoutes {
  /** Register under the /v1 prefix: `app.register(watch.plugin, { prefix: '/v1' })`. */
  readonly plugin: FastifyPluginAsync;
  /** Streams currently open. */
  readonly openStreams: number;
}

export const DEFAULT_WATCH_KEEP_ALIVE_MS = 15_000;
export const DEFAULT_MAX_BUFFERED_EVENTS = 10_000;

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
    maxBufferedEvents: options.maxBufferedEvents ?? DEFAULT_MAX_BUFFERED_EVENTS,
    clock: options.clock ?? systemClock,
  };
  const open = new Set<WatchStream>();

  const plugin: FastifyPluginAsync = async (app: FastifyInstance) => {
    app.get('/watch', { config: { access: 'read' } }, async (request, reply) => {
      const watch = parseWatchRequest(request);
      reply.hijack();
      const stream = new WatchStream(reply.raw, watch.services, settings, () => open.delete(stream));
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

/** One client's stream: the start (snapshot or missed changes), live changes, keep-alives. */
class WatchStream {
  readonly #raw: ServerResponse;
  readonly #services: ReadonlySet<string> | null;
  readonly #settings: Required<WatchRoutesOptions>;
  readonly #onEnd: () => void;
  #unsubscribe: () => void = () => {};
  #keepAlive: TimerHandle | null = null;
  #lastSent = -1;
  /** Events written since the socket last said it was full; 0 while it keeps up. */
  #buffered = 0;
  #ended = false;

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
    this.#raw.on('drain', () => (this.#buffered = 0));
    // The client may have gone while the request was parsed: its 'close' has come and gone.
    if (!this.#raw.socket || this.#raw.socket.destroyed) return this.#cleanUp();
    // All synchronous: no change can slip in between the start and the subscription.
    const missed = since === undefined ? null : changeLog.since(since);
    if (missed === null) this.#sendSnapshot(registry);
    else missed.forEach((change) => this.#sendChange(change));
    this.#unsubscribe = changeLog.subscribe((change) => this.#sendChange(change));
    this.#scheduleKeepAlive();
  }

  /** Ends the stream; its client may reconnect. Idempotent. */
  end(): void {
    this.#raw.end();
    this.#cleanUp();
  }

  #sendSnapshot(registry: SnapshotSource): void {
    const instances: InstanceView[] = registry.instances().filter((i) => this.#wants(i.service)).map(toView);
    this.#lastSent = registry.revision;
    this.#write(frame(registry.revision, { event: 'snapshot', data: { revision: registry.revision, instances } }));
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
    const flowing = this.#raw.write(text);
    if (flowing) return;
    // A consumer this slow would make us hold its backlog in memory without bound: let it
    // reconnect with Last-Event-ID and catch up from the change log (or a snapshot).
    this.#buffered += 1;
    if (this.#buffered > this.#settings.maxBufferedEvents) {
      this.#raw.destroy();
      this.#cleanUp();
    }
  }

  #scheduleKeepAlive(): void {
    this.#keepAlive = this.#settings.clock.setTimeout(() => {
      this.#raw.write(': keep-alive\n\n');
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
