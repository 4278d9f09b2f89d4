// A small stand-in for Roster's registry, for client and service tests: a real HTTP server on
// 127.0.0.1 that speaks the /v1 contract (the watch stream included) and the course's /services,
// and records every request. test/client/contract/ runs the same client cases against it and
// against the real registry, so that the two cannot drift apart.
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { instanceId } from '../../src/protocol/ids.js';
import { RosterError } from '../../src/protocol/errors.js';
import { parseRegisterRequest } from '../../src/protocol/validation.js';
import { SIGNATURE_HEADER, newSigningKey, probePayload, signPayload } from '../../src/protocol/signature.js';
import type { Logger } from '../../src/client/index.js';
import type { Health, InstanceView, Patch, PatchEntry, ProviderView, RegisterRequest, WatchChange, WatchChangeType } from '../../src/protocol/index.js';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** The parts of an instance the fake keeps: the same fields as the registry's own view. */
export type FakeInstance = Pick<InstanceView, 'id' | 'service' | 'url' | 'requires' | 'updateUrl' | 'heartbeatUrl' | 'ttlMs' | 'health' | 'revision' | 'owner'>;

/** Return an answer to short-circuit the fake's own handling (to inject a 404 or a 500). */
export type Intercept = (request: RecordedRequest) => { status: number; body?: unknown } | undefined;

export class FakeRegistry {
  readonly requests: RecordedRequest[] = [];
  readonly instances = new Map<string, FakeInstance>();
  revision = 0;
  intercept: Intercept | undefined;
  /** Runs before the registry answers a registration (after the initial patch). */
  beforeRegisterAnswer: ((body: RegisterRequest) => Promise<void>) | undefined;
  /** Hands each /v1 instance a signing key and signs its patches, as Roster's registry does; false plays an older registry. */
  signing = true;
  /** The signing clock: a test's fake clock, so that signatures are fresh by the client's time. */
  now: () => number = Date.now;
  /** The owner recorded for /v1 registrations (the real registry records the token's name). */
  owner: string | null = null;
  /** Signing keys by instance id, kept across re-registrations as the real registry does. */
  readonly keys = new Map<string, string>();
  #server: Server | null = null;
  #port = 0;
  #waiters: Array<{ match: (r: RecordedRequest) => boolean; resolve: (r: RecordedRequest) => void }> = [];
  #prevSent = new Map<string, number>();
  /** Every change since the revision in #changesFrom, for watchers that come back with `since`. */
  #changes: WatchChange[] = [];
  #changesFrom = 0;
  readonly #streams = new Set<WatchStream>();

  static async start(): Promise<FakeRegistry> {
    const registry = new FakeRegistry();
    await registry.listen();
    return registry;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Listens (again, on the same port after stop(), to play a registry that comes back). */
  async listen(): Promise<void> {
    const server = createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((resolve) => server.listen(this.#port, '127.0.0.1', resolve));
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Closes the server and every connection: the registry goes away. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** Cuts every open connection (watch streams included) and keeps listening: clients reconnect. */
  dropConnections(): void {
    this.#server?.closeAllConnections();
  }

  /** The first recorded request that matches, now or when it arrives. */
  waitForRequest(match: (r: RecordedRequest) => boolean): Promise<RecordedRequest> {
    const seen = this.requests.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  /** Waits for the `n`-th (1-based) request that matches. */
  async waitForCount(match: (r: RecordedRequest) => boolean, n: number): Promise<void> {
    let count = 0;
    await this.waitForRequest((r) => match(r) && ++count >= n);
  }

  count(match: (r: RecordedRequest) => boolean): number {
    return this.requests.filter(match).length;
  }

  /** Adds an instance without any HTTP (a provider for the client under test). */
  addInstance(service: string, url: string, health: Health = 'passing'): FakeInstance {
    const instance: FakeInstance = { id: instanceId(url), service, url, requires: [], updateUrl: null, heartbeatUrl: null, ttlMs: null, health, revision: ++this.revision, owner: null };
    this.instances.set(instance.id, instance);
    this.#recordChange('registered', instance);
    return instance;
  }

  /** POSTs a patch to an update URL, signed as the registry signs it unless `signature` says otherwise (null: unsigned). */
  async sendPatch(updateUrl: string, patch: Partial<Patch> | Record<string, unknown>, signature?: string | null): Promise<number> {
    const body = JSON.stringify(patch);
    const signed = signature === undefined ? this.#signatureFor(updateUrl, body) : signature;
    const response = await fetch(updateUrl, { method: 'POST', headers: headers(signed), body });
    await response.arrayBuffer();
    return response.status;
  }

  /** GETs a heartbeat URL, signed as the registry's probes are. */
  async probe(heartbeatUrl: string): Promise<number> {
    const instance = [...this.instances.values()].find((i) => i.heartbeatUrl === heartbeatUrl);
    const key = instance ? this.keys.get(instance.id) : undefined;
    const { pathname, search } = new URL(heartbeatUrl);
    const signed = key ? signPayload(key, probePayload(pathname + search), this.now()) : null;
    const response = await fetch(heartbeatUrl, { headers: signed ? { [SIGNATURE_HEADER]: signed } : {} });
    await response.arrayBuffer();
    return response.status;
  }

  /** The signature the registry would put on `body` sent to `updateUrl`: null for a course instance. */
  #signatureFor(updateUrl: string, body: string): string | null {
    const instance = [...this.instances.values()].find((i) => i.updateUrl === updateUrl);
    const key = instance ? this.keys.get(instance.id) : undefined;
    return key ? signPayload(key, body, this.now()) : null;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const record = await this.#record(req);
    const intercepted = this.intercept?.(record);
    if (intercepted) return json(res, intercepted.status, intercepted.body);
    try {
      await this.#route(record, res);
    } catch (error) {
      // Bad input is refused as the registry refuses it: its status, { code, message }.
      if (error instanceof RosterError) return json(res, error.status, error.toJSON());
      json(res, 500, { code: 'INTERNAL', message: String(error) });
    }
  }

  async #record(req: IncomingMessage): Promise<RecordedRequest> {
    let body = '';
    for await (const chunk of req) body += chunk;
    const record = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
    this.requests.push(record);
    for (const waiter of [...this.#waiters]) {
      if (!waiter.match(record)) continue;
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.resolve(record);
    }
    return record;
  }

  async #route(r: RecordedRequest, res: ServerResponse): Promise<void> {
    const id = /^\/v1\/instances\/([^/]+)/.exec(r.path)?.[1];
    if (r.method === 'POST' && r.path === '/v1/instances') return this.#register(parseRegisterRequest(JSON.parse(r.body)), res);
    if (r.method === 'GET' && /^\/v1\/watch(\?|$)/.test(r.path)) return this.#watch(r, res);
    if (r.method === 'GET' && r.path === '/v1/state') return json(res, 200, { revision: this.revision, instances: [...this.instances.values()].map(view) });
    if (r.method === 'POST' && r.path === '/services') return this.#registerCourse(JSON.parse(r.body), res);
    if (r.method === 'DELETE' && r.path === '/services') return this.#remove(instanceId(r.body), res, () => res.end());
    if (id === undefined) return json(res, 404, { code: 'NOT_FOUND', message: `no route ${r.method} ${r.path}` });
    const instance = this.instances.get(decodeURIComponent(id));
    if (!instance) return json(res, 404, { code: 'INSTANCE_NOT_FOUND', message: `no instance "${id}"` });
    if (r.method === 'DELETE') return this.#remove(instance.id, res, () => json(res, 200, { instance: view(instance) }));
    if (r.method === 'POST' && r.path.endsWith('/renew') && instance.ttlMs === null) return json(res, 409, { code: 'NOT_TTL_INSTANCE', message: 'not a TTL instance' });
    json(res, 200, { instance: view(instance) });
  }

  async #register(body: RegisterRequest, res: ServerResponse): Promise<void> {
    const id = instanceId(body.url);
    const known = this.instances.has(id);
    const instance: FakeInstance = {
      id, service: body.service, url: body.url, requires: body.requires ?? [], updateUrl: body.updateUrl ?? null,
      heartbeatUrl: body.heartbeatUrl ?? null, ttlMs: body.ttlMs ?? null, health: 'passing', revision: ++this.revision, owner: this.owner,
    };
    this.instances.set(id, instance);
    this.#recordChange('registered', instance);
    if (this.signing && !this.keys.has(id)) this.keys.set(id, newSigningKey());
    if (!this.signing) this.keys.delete(id);
    const delivered = instance.updateUrl ? await this.#deliver(instance, this.#providerEntries(instance.requires), [], true) : null;
    await this.#notifyDependents(instance, 'Added');
    await this.beforeRegisterAnswer?.(body);
    const signingKey = this.keys.get(id) ?? null;
    json(res, known ? 200 : 201, { instance: view(instance), revision: this.revision, providers: this.#providers(instance.requires), delivered, signingKey });
  }

  async #registerCourse(body: { ServiceName: string; ServiceURL: string; RequiredServices: string[]; ServiceUpdateURL: string; HeartbeatURL: string }, res: ServerResponse): Promise<void> {
    const instance = this.addInstance(body.ServiceName, body.ServiceURL);
    Object.assign(instance, { requires: body.RequiredServices, updateUrl: body.ServiceUpdateURL || null, heartbeatUrl: body.HeartbeatURL || null });
    // The course's registry sends no revisions and null for an empty list.
    if (instance.updateUrl) await this.#post(instance.updateUrl, { Added: this.#providerEntries(instance.requires), Removed: null });
    res.writeHead(200).end();
  }

  async #remove(id: string, res: ServerResponse, answer: () => void): Promise<void> {
    const instance = this.instances.get(id);
    if (!instance) return json(res, 404, { code: 'INSTANCE_NOT_FOUND', message: `no instance "${id}"` });
    this.instances.delete(id);
    this.keys.delete(id);
    this.revision++;
    this.#recordChange('deregistered', { ...instance, revision: this.revision });
    await this.#notifyDependents(instance, 'Removed');
    answer();
  }

  /** GET /v1/watch: the changes after `since` (Last-Event-ID wins) when they are all kept, else a snapshot; then live changes. */
  #watch(r: RecordedRequest, res: ServerResponse): void {
    const query = new URL(r.path, 'http://fake.test').searchParams;
    const lastEventId = r.headers['last-event-id'];
    const sinceText = typeof lastEventId === 'string' ? lastEventId : query.get('since');
    const since = sinceText === null ? undefined : Number(sinceText);
    const services = query.get('services')?.split(',') ?? null;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    res.flushHeaders();
    const stream: WatchStream = { res, wants: (service) => services === null || services.includes(service) };
    this.#streams.add(stream);
    res.on('close', () => this.#streams.delete(stream));
    const kept = since !== undefined && since >= this.#changesFrom && since <= this.revision;
    if (!kept) return sendEvent(res, 'snapshot', this.revision, { revision: this.revision, instances: [...this.instances.values()].filter((i) => stream.wants(i.service)).map(view) });
    for (const change of this.#changes.filter((c) => c.revision > since && stream.wants(c.instance.service))) sendEvent(res, 'change', change.revision, change);
  }

  #recordChange(type: WatchChangeType, instance: FakeInstance): void {
    const change: WatchChange = { revision: instance.revision, type, instance: view(instance) };
    // Revisions that start again (a test playing a restarted registry) start the log again.
    if (change.revision <= (this.#changes.at(-1)?.revision ?? this.#changesFrom)) {
      this.#changes = [];
      this.#changesFrom = change.revision - 1;
    }
    this.#changes.push(change);
    for (const stream of this.#streams) if (stream.wants(change.instance.service)) sendEvent(stream.res, 'change', change.revision, change);
  }

  #providers(requires: string[]): Record<string, ProviderView[]> {
    return Object.fromEntries(requires.map((service) => [service, this.#passing(service).map((i) => ({ service, url: i.url, id: i.id, metadata: {} }))]));
  }

  #providerEntries(requires: string[]): PatchEntry[] {
    return requires.flatMap((service) => this.#passing(service).map((i) => ({ Name: service, URL: i.url })));
  }

  #passing(service: string): FakeInstance[] {
    return [...this.instances.values()].filter((i) => i.service === service && i.health === 'passing');
  }

  async #notifyDependents(changed: FakeInstance, kind: 'Added' | 'Removed'): Promise<void> {
    for (const dependent of this.instances.values()) {
      if (!dependent.updateUrl || dependent === changed || !dependent.requires.includes(changed.service)) continue;
      const entries = [{ Name: changed.service, URL: changed.url }];
      await this.#deliver(dependent, kind === 'Added' ? entries : [], kind === 'Removed' ? entries : [], false);
    }
  }

  async #deliver(to: FakeInstance, added: PatchEntry[], removed: PatchEntry[], first: boolean): Promise<boolean> {
    const url = to.updateUrl as string;
    const prev = first ? 0 : (this.#prevSent.get(url) ?? 0);
    this.#prevSent.set(url, this.revision);
    return this.#post(url, { Added: added, Removed: removed, Revision: this.revision, PrevRevision: prev });
  }

  async #post(url: string, patch: unknown): Promise<boolean> {
    try {
      const body = JSON.stringify(patch);
      const response = await fetch(url, { method: 'POST', headers: headers(this.#signatureFor(url, body)), body });
      await response.arrayBuffer();
      return response.ok;
    } catch {
      return false;
    }
  }
}

function view(i: FakeInstance): InstanceView {
  return {
    id: i.id, service: i.service, url: i.url, requires: i.requires, updateUrl: i.updateUrl, heartbeatUrl: i.heartbeatUrl,
    ttlMs: i.ttlMs, metadata: {}, health: i.health, protocol: 'v1', owner: i.owner, registeredAt: new Date(0).toISOString(), revision: i.revision,
    lastCheckAt: null, lastCheckMs: null, lastError: null, criticalSince: null,
  };
}

interface WatchStream {
  res: ServerResponse;
  wants(service: string): boolean;
}

function sendEvent(res: ServerResponse, event: 'snapshot' | 'change', id: number, data: unknown): void {
  res.write(`event: ${event}\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n`);
}

function headers(signature: string | null): Record<string, string> {
  return signature ? { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature } : { 'content-type': 'application/json' };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** A logger that keeps what it is told, for assertions. */
export function recordingLogger(): Logger & { lines: Array<[level: string, message: string]>; messages(level: string): string[] } {
  const lines: Array<[string, string]> = [];
  const at = (level: string) => (message: string) => void lines.push([level, message]);
  return {
    lines,
    messages: (level) => lines.filter(([l]) => l === level).map(([, m]) => m),
    info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug'),
  };
}

/**
 * A node HTTP server on 127.0.0.1:0 whose listener is set after it listens: a client's URL
 * must name the port, and the client is what answers on it.
 */
export async function listenLate(): Promise<{ server: Server; url: string; use(listener: RequestListener): void; close(): Promise<void> }> {
  let current: RequestListener = (_req, res) => void res.writeHead(503).end();
  const server = createServer((req, res) => current(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = (): Promise<void> => new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
  return { server, url, use: (listener) => void (current = listener), close };
}

/** A port nothing listens on (it was free a moment ago). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
