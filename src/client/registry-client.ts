// A service's side of Roster: register, keep the registry's view of our dependencies up to date
// (patches pushed to us, full state when one went missing), choose a provider, deregister.
import { EventEmitter } from 'node:events';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { RosterError, instanceId } from '../protocol/index.js';
import type { CourseRegistration, InstanceMetadata, InstanceView, Patch, ProviderView, RegisterRequest, RegisterResponse, StateResponse } from '../protocol/index.js';
import { createRequestHandler, pathOf, sendError, type ReceivedPatch, type RequestHandler, type Verdict } from './handlers.js';
import { RegistryHttp, answerError, authorization, expectStatus, type Answer } from './http.js';
import { resolveClientOptions, type RegistryClientOptions, type ResolvedClientOptions, type Strategy } from './options.js';
import { MAX_REVISION_JUMP, parseJsonBody, parseProviderPatch } from './patch-rules.js';
import { ProviderCache, type ServiceChange } from './provider-cache.js';
import { SignatureGuard, describeGuardCheck, type GuardCheck } from './signature-guard.js';
import { keepTrying, type Waiting } from './register-retry.js';
import { Ticker } from './ticker.js';
import { WatchStream, type WatchChange, type WatchSnapshot } from './watch-stream.js';
import { SessionKeeper } from './session.js';
import { clientClosed, internal, invalidRequest, noProvider, registrationCancelled, registryError, routeNotFound } from '../protocol/errors.js';

export interface ChangeEvent extends ServiceChange {
  /** Registry revision of the change; null for the course's registry, which has none. */
  revision: number | null;
}

/** register() could not reach the registry (or it was not ready) and tries again in `retryInMs`. */
export interface WaitingEvent extends Waiting {
  registryUrls: readonly string[];
}

export type ClientEvents = {
  change: [ChangeEvent];
  waiting: [WaitingEvent];
  /** Trouble the client recovers from by itself. There is never an 'error' event. */
  warning: [Error];
};

/** What provider() narrows its pick by (docs/client.md, "Routing"). */
export interface ProviderOptions {
  /** Only instances that carry all of these tags. */
  tags?: readonly string[];
  /** Prefer instances of this zone; default the client's `zone`. */
  zone?: string;
  /** Default the client's `strategy`. */
  strategy?: Strategy;
}

export interface WaitForOptions {
  timeoutMs?: number;
}

export const DEFAULT_WAIT_MS = 30_000;
const REPAIR_ATTEMPTS = 3;
/** Patches that arrive while a registration is under way, held until its answer brings the key. */
const HELD_PATCHES = 16;
/** Longest wait between attempts to take a registration back from another owner. */
const MAX_RETAKE_DELAY_MS = 5 * 60_000;
/** The course's registry keeps one entry per registration, even of one URL: deregister() takes out at most this many. */
const MAX_COURSE_DUPLICATES = 10;
/** Course: silence for this many of the longest gaps seen between probes means the registry forgot us. */
const PROBE_GAPS_FORGOTTEN = 3;
/** Course: each registration sent on suspicion with no probe since doubles the next wait, at most this many times. */
const MAX_FORGOTTEN_DOUBLINGS = 5;

/** What this instance registered as: the keep-alive notices when the registry says otherwise. */
interface Identity {
  service: string;
  updateUrl: string | null;
  heartbeatUrl: string | null;
  /** Undefined when the registry did not say (an older one): not compared. */
  owner: string | null | undefined;
}

export class RegistryClient extends EventEmitter<ClientEvents> {
  readonly options: ResolvedClientOptions;
  /** This instance's id at the registry (derived from its URL). */
  readonly id: string;
  readonly #http: RegistryHttp;
  readonly #cache: ProviderCache;
  readonly #handle: RequestHandler;
  readonly #ticker: Ticker;
  /** Notifications 'watch' with something to watch: keeps the view instead of patches. */
  readonly #watch: WatchStream | null;
  /** Liveness 'session': the session stream that tells the registry we are alive. */
  readonly #session: SessionKeeper | null;
  readonly #guard: SignatureGuard;
  #lastRevision = 0;
  #registering = false;
  #held: ReceivedPatch[] = [];
  #identity: Identity | null = null;
  /** Taking the registration back was refused (NOT_OWNER): when to try again, and how long to wait next. */
  #retakeAt = 0;
  #retakeDelayMs = 0;
  /** The last keep-alive trouble reported, so that the same one is not logged every round. */
  #lastTrouble: string | null = null;
  #registered = false;
  #draining = false;
  #registryDown = false;
  #repair: Promise<void> | null = null;
  #wantedRevision = 0;
  #closing: Promise<void> | null = null;
  /** A register() under way (waiting for the registry, perhaps), and how to stop it. */
  #registration: Promise<void> | null = null;
  #stopRegistering: AbortController | null = null;
  /** register() failed to reach the registry and tries again: it waits for the registry. */
  #waiting = false;
  /** When the registry last probed our heartbeat (or we registered): the course's registry shows it still knows us only so. */
  #lastProbeAt = 0;
  /** Course: the longest gap seen between two probes (or from registering to a probe): how slow the prober is; null before any. */
  #longestProbeGapMs: number | null = null;
  /** Course: registrations sent because no probe came, with no probe since: each doubles the next wait. */
  #unprobedRegistrations = 0;
  /** Course: registrations sent because no probe came: each may have left a duplicate entry for deregister() to take out. */
  #suspectedRegistrations = 0;

  constructor(options: RegistryClientOptions) {
    super();
    this.options = resolveClientOptions(options);
    this.id = instanceId(this.options.url);
    const { registryUrls, requestTimeoutMs, token, tlsCa } = this.options;
    this.#http = new RegistryHttp({ urls: registryUrls, timeoutMs: requestTimeoutMs, token, ca: tlsCa });
    this.#cache = new ProviderCache(this.options.requires, this.options.strategy);
    this.#guard = new SignatureGuard(this.options.clock);
    this.#handle = createRequestHandler({
      updatePath: this.options.updateUrl === null ? null : pathOf(this.options.updateUrl),
      heartbeatPath: this.options.heartbeatUrl === null ? null : pathOf(this.options.heartbeatUrl),
      receivePatch: (patch) => this.#receivePatch(patch),
      checkProbe: (signature, payload) => this.#checkProbe(signature, payload),
      isDraining: () => this.#draining,
    });
    this.#ticker = new Ticker(this.options.clock, this.#checkIntervalMs(), () => this.#check(), (error) => this.options.logger.error(`the keep-alive round failed: ${(error as Error)?.message ?? error}`));
    this.#watch = this.options.notifications === 'watch' && this.options.requires.length > 0 ? this.#createWatch() : null;
    this.#session = this.options.liveness === 'session' ? this.#createSession() : null;
    // Bound, so that `server.on('request', ...)`-style code can pass it around unattached.
    this.handleRequest = this.handleRequest.bind(this);
  }

  /** Revision of the registry state the view reflects (0 before any; course: stays 0). */
  get lastRevision(): number {
    return this.#lastRevision;
  }

  /** The registry URL in use (the one that answered last). */
  get registryUrl(): string {
    return this.#http.current;
  }

  get registered(): boolean {
    return this.#registered;
  }

  /** Whether the registry handed this instance a signing key: then only signed patches and probes are taken. */
  get verifiesSignatures(): boolean {
    return this.#guard.active;
  }

  /**
   * Registers, and resolves once registered. While the registry cannot be reached (or says it is
   * not ready) it keeps trying, with backoff, unless `registerRetry` is false; a refusal (a bad
   * token, an invalid registration) rejects at once. deregister() or close() stops the waiting.
   */
  register(): Promise<void> {
    if (this.#closing) return Promise.reject(clientClosed('register()'));
    this.#registration ??= this.#registerUntilDone().finally(() => {
      this.#registration = null;
      this.#stopRegistering = null;
      this.#waiting = false;
    });
    return this.#registration;
  }

  /** Whether register() is waiting for the registry to come up. */
  get waitingForRegistry(): boolean {
    return this.#waiting;
  }

  async #registerUntilDone(): Promise<void> {
    const stop = (this.#stopRegistering = new AbortController());
    await keepTrying(() => (this.options.protocol === 'course' ? this.#registerCourse() : this.#registerRoster()), {
      clock: this.options.clock,
      policy: this.options.registerRetry,
      signal: stop.signal,
      onWait: (waiting) => this.#onWaiting(waiting),
      stopped: () => registrationCancelled(String(stop.signal.reason)),
    });
    this.#registered = true;
    this.#registryDown = false;
    this.#lastProbeAt = this.options.clock.now();
    this.options.logger.info(`registered ${this.options.service} at ${this.options.url} with the registry at ${this.registryUrl}`);
    // Roster: renew or look ourselves up. Course: notice when the registry stops probing us.
    this.#ticker.start();
    this.#watch?.start();
    this.#session?.start();
  }

  /** The first wait is a warning; the later ones, while the registry stays away, are info. */
  #onWaiting(waiting: Waiting): void {
    const { service, url, registryUrls } = this.options;
    this.#waiting = true;
    const message = `${service} at ${url} is not registered yet: ${waiting.error.message}; waiting for the registry (${registryUrls.join(', ')}): attempt ${waiting.attempt + 1} in ${waiting.retryInMs} ms`;
    if (waiting.attempt === 1) this.options.logger.warn(message);
    else this.options.logger.info(message);
    try {
      this.emit('waiting', { ...waiting, registryUrls });
    } catch (error) {
      this.#warn(new Error(`a 'waiting' listener threw: ${(error as Error)?.message ?? error}`, { cause: error }));
    }
  }

  /** Stops a register() that waits for the registry, and lets an attempt under way finish. */
  async #cancelRegistration(by: string): Promise<void> {
    this.#stopRegistering?.abort(by);
    await this.#registration?.catch(() => {});
  }

  /** Stops the keep-alive loop and removes this instance from the registry. Idempotent. */
  async deregister(): Promise<void> {
    // An attempt under way may still register us: wait for it, so that what it registered goes too.
    await this.#cancelRegistration('deregister()');
    if (!this.#registered) return;
    this.#registered = false;
    await Promise.all([this.#ticker.stop(), this.#watch?.stop(), this.#session?.stop()]);
    const answer =
      this.options.protocol === 'course'
        ? await this.#deleteCourseEntries()
        : await this.#http.send('DELETE', `/v1/instances/${encodeURIComponent(this.id)}`);
    // 404: the registry had already forgotten us, which is what we asked for. The course's
    // registry says so with a 500 (it drops an instance at its first failed heartbeat, and ours
    // answers 503 while shutting down).
    expectStatus(answer, this.options.protocol === 'course' ? [200, 404, 500] : [200, 404]);
    this.options.logger.info(`deregistered ${this.options.service} at ${this.options.url}`);
  }

  /**
   * Puts this instance in maintenance (`on`), or ends it, before a deploy for example: its
   * dependents are told `Removed` at once, or after `drainMs` for the work in flight; it stays
   * registered, and re-registering does not end it. Resolves with the instance as stored.
   */
  async maintenance(on: boolean, options: { reason?: string; drainMs?: number } = {}): Promise<InstanceView> {
    if (this.options.protocol === 'course') throw invalidRequest("maintenance needs Roster's protocol; the course's registry has none");
    const path = `/v1/instances/${encodeURIComponent(this.id)}/maintenance`;
    const body = { reason: options.reason ?? 'maintenance', ...(options.drainMs === undefined ? {} : { drainMs: options.drainMs }) };
    const answer = on ? await this.#http.send('PUT', path, { json: body }) : await this.#http.send('DELETE', path);
    return (expectStatus(answer, [200]) as { instance: InstanceView }).instance;
  }

  /**
   * A passing instance URL of `service` that carries every tag asked for, of the caller's zone when
   * one of them is (`zone`, default this client's), chosen by the strategy (default the client's);
   * throws NO_PROVIDER when none.
   */
  provider(service: string, options: ProviderOptions = {}): string {
    if (options.tags !== undefined && !Array.isArray(options.tags)) throw invalidRequest(`provider(): tags must be a list of strings, not ${JSON.stringify(options.tags)}`);
    const filter = { tags: options.tags, zone: options.zone ?? this.options.zone ?? undefined, strategy: options.strategy };
    const url = this.#cache.pick(service, filter);
    if (url !== undefined) return url;
    if (this.#cache.list(service).length > 0) throw noProvider(noMatch(service, this.#cache.list(service).length, options.tags));
    throw noProvider(`no instance of service "${service}" is available (${this.#whyNone(service)})`);
  }

  providers(service: string): string[] {
    return this.#cache.list(service);
  }

  /**
   * Applies a patch whose origin the caller vouches for (the update URL's handler checks the
   * signature first). Follows the revision rules in the docs; throws INVALID_REQUEST on bad input.
   */
  applyPatch(body: unknown): void {
    const patch = parseProviderPatch(body);
    if (patch.Revision === undefined) return this.#applyEntries(patch, null);
    if (patch.Revision <= this.#lastRevision) {
      this.options.logger.debug(`dropped patch ${patch.Revision}: already at revision ${this.#lastRevision}`);
      return;
    }
    if (patch.Revision > this.#lastRevision + MAX_REVISION_JUMP) return this.#distrust(patch.Revision);
    if ((patch.PrevRevision ?? 0) > this.#lastRevision) return this.#repairGap(patch);
    this.#applyEntries(patch, patch.Revision);
    this.#lastRevision = patch.Revision;
  }

  /** Rebuilds the view from the registry's full state (roster protocol only). */
  async refresh(): Promise<void> {
    if (this.options.protocol === 'course') {
      throw invalidRequest('refresh() needs protocol "roster": the course registry has no state endpoint');
    }
    const state = expectStatus(await this.#http.send('GET', '/v1/state'), [200]) as StateResponse;
    checkShape(typeof state?.revision === 'number' && Array.isArray(state.instances), 'GET /v1/state');
    this.#cache.learn(state.instances);
    this.#applyFullView(state.revision, passingUrls(state.instances));
  }

  /** Resolves once each named service (default: all required) has a provider. */
  waitFor(services: readonly string[] = this.options.requires, options: WaitForOptions = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS;
    const unknown = services.filter((name) => !this.#cache.requires(name));
    if (unknown.length > 0) return Promise.reject(invalidRequest(`waitFor(): ${quoteAll(unknown)} not in this client's requires`));
    const missing = (): string[] => services.filter((name) => this.#cache.list(name).length === 0);
    return new Promise((resolve, reject) => {
      if (missing().length === 0) return resolve();
      const onChange = (): void => {
        if (missing().length > 0) return;
        done();
        resolve();
      };
      const timer = this.options.clock.setTimeout(() => {
        done();
        const why = this.#waiting
          ? `this client is still waiting for the registry (${this.options.registryUrls.join(', ')}) to register it`
          : 'no passing instance is registered; start it or check the registry';
        reject(noProvider(`gave up after ${timeoutMs} ms waiting for ${quoteAll(missing())}: ${why}`));
      }, timeoutMs);
      const done = (): void => {
        this.options.clock.clearTimeout(timer);
        this.off('change', onChange);
      };
      this.on('change', onChange);
    });
  }

  /** Answers the update and heartbeat paths; returns false (response untouched) for any other. */
  handleRequest(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    return this.#handle(req, res);
  }

  /** `http.createServer(client.requestListener(app))`: our two paths, then `fallback` (or 404). */
  requestListener(fallback?: RequestListener): RequestListener {
    return (req, res) => {
      this.handleRequest(req, res)
        .then((handled) => {
          if (handled) return;
          if (fallback) return fallback(req, res);
          sendError(res, routeNotFound(req.method ?? 'GET', pathOf(req.url) ?? req.url ?? '/'));
        })
        .catch((error: unknown) => this.#failRequest(res, error));
    };
  }

  /** While draining, the heartbeat answers 503 so that the registry stops sending traffic. */
  setDraining(draining = true): void {
    this.#draining = draining;
  }

  /** Stops timers and frees sockets; does not deregister. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    await this.#cancelRegistration('close()');
    await Promise.all([this.#ticker.stop(), this.#watch?.close(), this.#session?.close()]);
    await this.#repair;
    await this.#http.close();
  }

  async #registerRoster(): Promise<void> {
    // The registry may POST the first patch before it answers, signed with a key we learn from the answer.
    this.#registering = true;
    let registered = false;
    try {
      const answer = await this.#http.send('POST', '/v1/instances', { json: this.#registerRequest() });
      const body = expectStatus(answer, [200, 201]) as RegisterResponse;
      checkShape(typeof body?.revision === 'number' && typeof body.providers === 'object' && body.providers !== null, 'POST /v1/instances');
      this.#guard.setKey(typeof body.signingKey === 'string' && body.signingKey !== '' ? body.signingKey : null);
      this.#identity = this.#identityOf(body.instance);
      this.#cache.learn(Object.values(body.providers).flatMap((list) => list ?? []));
      this.#applyFullView(body.revision, providerUrls(body.providers));
      registered = true;
    } finally {
      this.#registering = false;
      // Without an answer nobody can tell which key should have signed them: they are dropped.
      this.#releaseHeld(registered);
    }
  }

  /** What we registered as, from the registry's own view of it (it may normalise URLs). */
  #identityOf(view: InstanceView | undefined): Identity {
    const { service, updateUrl, heartbeatUrl } = this.options;
    if (typeof view?.service !== 'string') return { service, updateUrl, heartbeatUrl, owner: undefined };
    return { service: view.service, updateUrl: view.updateUrl ?? null, heartbeatUrl: view.heartbeatUrl ?? null, owner: view.owner === undefined ? undefined : view.owner };
  }

  /** A patch POSTed to the update URL: hold it during a registration, else check its signature and apply it. */
  #receivePatch(patch: ReceivedPatch): Verdict {
    if (this.#registering && this.options.protocol === 'roster') return this.#hold(patch);
    const check = this.#guard.checkPatch(patch.signature, patch.raw);
    if (check !== 'valid') return this.#refusePatch(check);
    this.applyPatch(parseJsonBody(patch.raw));
    return { ok: true };
  }

  /**
   * Accepted now, judged once the registration's answer says which key signs (or that none does).
   * When the hold is full the patch is not acknowledged: the registry keeps it and sends it again.
   */
  #hold(patch: ReceivedPatch): Verdict {
    if (this.#held.length >= HELD_PATCHES) return { ok: false, later: true, reason: 'registering: too many patches wait for the registration answer; send this one again' };
    this.#held.push(patch);
    return { ok: true };
  }

  #releaseHeld(judge: boolean): void {
    const held = this.#held;
    this.#held = [];
    if (!judge && held.length > 0) this.options.logger.debug(`dropped ${held.length} patch(es) received during a failed registration`);
    for (const patch of judge ? held : []) {
      try {
        this.#receivePatch(patch);
      } catch (error) {
        this.#warn(new Error(`dropped a patch received during registration: ${(error as Error).message}`, { cause: error }));
      }
    }
  }

  #refusePatch(check: Exclude<GuardCheck, 'valid'>): Verdict {
    const reason = describeGuardCheck(check);
    this.options.logger.warn(`refused a patch at ${this.options.updateUrl} (${check}): ${reason}; nothing applied`);
    return { ok: false, reason };
  }

  #checkProbe(signature: string | undefined, payload: string): Verdict {
    const check = this.#guard.checkProbe(signature, payload);
    if (check === 'valid') {
      this.#noteProbe();
      return { ok: true };
    }
    // Probes carry nothing to apply: a refused one is worth a debug line, not a warning each time.
    this.options.logger.debug(`refused a heartbeat probe (${check})`);
    return { ok: false, reason: describeGuardCheck(check) };
  }

  #registerRequest(): RegisterRequest {
    const { service, url, requires, updateUrl, heartbeatUrl, ttlMs } = this.options;
    const body: RegisterRequest = { service, url, requires: [...requires] };
    if (updateUrl !== null) body.updateUrl = updateUrl;
    if (heartbeatUrl !== null) body.heartbeatUrl = heartbeatUrl;
    if (ttlMs !== null) body.ttlMs = ttlMs;
    if (this.options.liveness === 'session') body.liveness = 'session';
    const metadata = this.#metadata();
    if (metadata !== undefined) body.metadata = metadata;
    return body;
  }

  /** The metadata option with the routing options (weight, tags, zone) on top. */
  #metadata(): InstanceMetadata | undefined {
    const { metadata, weight, tags, zone } = this.options;
    if (weight === null && tags === null && zone === null) return metadata;
    const routing: InstanceMetadata = { ...metadata };
    if (weight !== null) routing.weight = weight;
    if (tags !== null) routing.tags = [...tags];
    if (zone !== null) routing.zone = zone;
    return routing;
  }

  async #registerCourse(): Promise<void> {
    // Key order and the trailing newline are what the Go client's json.Encoder sends.
    const registration: CourseRegistration = {
      ServiceName: this.options.service,
      ServiceURL: this.options.url,
      RequiredServices: [...this.options.requires],
      ServiceUpdateURL: this.options.updateUrl ?? '',
      HeartbeatURL: this.options.heartbeatUrl ?? '',
    };
    const text = `${JSON.stringify(registration)}\n`;
    expectStatus(await this.#http.send('POST', '/services', { text, contentType: 'application/json' }), [200]);
  }

  /** A Revision far beyond anything seen is not believed: read the registry's state instead. */
  #distrust(revision: number): void {
    const why = `a patch claims revision ${revision}, more than ${MAX_REVISION_JUMP} beyond the last seen (${this.#lastRevision}): not applied`;
    if (this.options.protocol === 'course') return this.options.logger.warn(why);
    this.options.logger.warn(`${why}; reading the registry's state instead`);
    this.#startRepair();
  }

  #applyEntries(patch: Patch, revision: number | null): void {
    this.#emitChanges(this.#cache.apply(patch.Added, patch.Removed), revision);
  }

  #applyFullView(revision: number, views: ReadonlyMap<string, readonly string[]>): void {
    // An answer older than what patches already gave us would roll the view back.
    if (revision < this.#lastRevision) return;
    this.#lastRevision = revision;
    this.#emitChanges(this.#cache.replace(views), revision);
  }

  #emitChanges(changes: ServiceChange[], revision: number | null): void {
    for (const change of changes) {
      try {
        this.emit('change', { ...change, revision });
      } catch (error) {
        // A throwing listener must not make us answer the registry with an error.
        this.#warn(new Error(`a 'change' listener threw: ${(error as Error)?.message ?? error}`, { cause: error }));
      }
    }
  }

  /** A patch came after one we never saw: apply nothing, rebuild from full state instead. */
  #repairGap(patch: Patch): void {
    this.#wantedRevision = Math.max(this.#wantedRevision, patch.Revision ?? 0);
    // Before the first view (a patch that overtook the registration's answer) nothing was missed.
    const level = this.#lastRevision === 0 ? 'debug' : 'info';
    this.options.logger[level](`missed a patch before revision ${patch.Revision} (have ${this.#lastRevision}); reading the registry's state`);
    this.#startRepair();
  }

  #startRepair(): void {
    this.#repair ??= this.#repairLoop().finally(() => {
      this.#repair = null;
    });
  }

  async #repairLoop(): Promise<void> {
    // Patches with newer gaps may arrive while a refresh is under way: go again until caught up.
    for (let i = 0; i < REPAIR_ATTEMPTS; i++) {
      try {
        await this.refresh();
      } catch (error) {
        return this.#onRegistryError(error);
      }
      if (this.#lastRevision >= this.#wantedRevision) return;
    }
  }

  #createSession(): SessionKeeper {
    return new SessionKeeper({
      registryUrl: () => this.registryUrl,
      instanceId: () => this.id,
      clock: this.options.clock,
      headers: authorization(this.options.token),
      ca: this.options.tlsCa ?? undefined,
      requestTimeoutMs: this.options.requestTimeoutMs,
      reregister: () => this.#registerAgain('the registry does not know this instance (session)'),
      disconnected: (error, retryInMs) => this.options.logger.debug(`session dropped: ${error.message}; reopening in ${retryInMs} ms`),
    });
  }

  #createWatch(): WatchStream {
    return new WatchStream({
      registryUrl: () => this.registryUrl,
      services: this.options.requires,
      since: () => this.#lastRevision,
      clock: this.options.clock,
      headers: authorization(this.options.token),
      ca: this.options.tlsCa ?? undefined,
      handlers: {
        snapshot: (snapshot) => this.#applySnapshot(snapshot),
        change: (change) => this.#applyWatchChange(change),
        disconnected: (error, retryInMs) => this.#onWatchDropped(error, retryInMs),
      },
    });
  }

  /** A snapshot is the registry's state now: it wins even over a higher revision (a restarted registry). */
  #applySnapshot(snapshot: WatchSnapshot): void {
    this.#lastRevision = snapshot.revision;
    this.#cache.learn(snapshot.instances);
    this.#emitChanges(this.#cache.replace(passingUrls(snapshot.instances)), snapshot.revision);
  }

  #applyWatchChange(change: WatchChange): void {
    // The registration's answer may already hold it.
    if (change.revision <= this.#lastRevision) return;
    this.#lastRevision = change.revision;
    this.#cache.learn([change.instance]);
    const entries = [{ Name: change.instance.service, URL: change.instance.url }];
    const visible = (change.type === 'registered' || change.type === 'passing') && inRotation(change.instance);
    this.#applyEntries({ Added: visible ? entries : [], Removed: visible ? [] : entries }, change.revision);
  }

  #onWatchDropped(error: RosterError, retryInMs: number): void {
    // The keep-alive loop already reports an unreachable registry; anything else is news.
    if (error.code !== 'REGISTRY_UNREACHABLE') return this.#warn(error);
    this.options.logger.debug(`${error.message}; reconnecting in ${retryInMs} ms from revision ${this.#lastRevision}`);
  }

  #checkIntervalMs(): number {
    const { ttlMs, checkIntervalMs } = this.options;
    // Renewing at a third of the TTL survives two lost renewals.
    return ttlMs === null ? checkIntervalMs : Math.min(checkIntervalMs, Math.floor(ttlMs / 3));
  }

  /** One keep-alive round: renew or look ourselves up; register again when forgotten or changed behind our back. */
  async #check(): Promise<void> {
    if (this.options.protocol === 'course') return this.#checkProbed();
    try {
      const answer = this.options.ttlMs !== null
        ? await this.#http.send('POST', `/v1/instances/${encodeURIComponent(this.id)}/renew`)
        : await this.#http.send('GET', `/v1/instances/${encodeURIComponent(this.id)}`);
      const wasDown = this.#markUp();
      const lost = this.#whyLost(answer);
      if (lost !== null) return await this.#registerAgain(lost);
      this.#retakeDelayMs = 0;
      this.#lastTrouble = null;
      // Patches may have been lost while the registry was away; without an update URL we poll
      // (a watcher's stream catches up by itself).
      if (this.#watch === null && (wasDown || this.options.updateUrl === null)) await this.refresh();
    } catch (error) {
      this.#onCheckError(error);
    }
  }

  /** Why our registration is no longer ours, or null when it is as we left it. */
  #whyLost(answer: Answer): string | null {
    const where = `the registry at ${this.registryUrl}`;
    if (answer.status === 404) return `${where} no longer knows ${this.options.url} (restarted, or removed)`;
    if (answer.status === 409 && errorCode(answer) === 'NOT_OWNER') return `${where} says ${this.options.url} now belongs to someone else: ${answerError(answer).message}`;
    const body = expectStatus(answer, [200]) as { instance?: InstanceView } | undefined;
    const changed = this.#identity === null ? [] : identityChanges(this.#identity, body?.instance);
    return changed.length === 0 ? null : `${where} holds a registration of ${this.options.url} changed behind this client's back (${changed.join('; ')})`;
  }

  /** Registers again, unless the registry refused that lately (NOT_OWNER): then waits longer each time. */
  async #registerAgain(why: string): Promise<void> {
    const now = this.options.clock.now();
    if (now < this.#retakeAt) return;
    this.#report(`${why}; registering again`);
    const revisions = [this.#lastRevision, this.#wantedRevision];
    // A restarted registry may count revisions from scratch.
    this.#lastRevision = 0;
    this.#wantedRevision = 0;
    try {
      await this.#registerRoster();
    } catch (error) {
      [this.#lastRevision = 0, this.#wantedRevision = 0] = revisions;
      if (!(error instanceof RosterError) || error.code !== 'NOT_OWNER') throw error;
      // At least one round is skipped, and each refusal doubles the wait.
      this.#retakeDelayMs = Math.min(MAX_RETAKE_DELAY_MS, Math.max(2 * this.#checkIntervalMs(), this.#retakeDelayMs * 2));
      this.#retakeAt = now + this.#retakeDelayMs;
      return this.#report(`the registry refused to register ${this.options.url} again: ${error.message}; next try in ${this.#retakeDelayMs} ms`);
    }
    this.#retakeDelayMs = 0;
    this.#retakeAt = 0;
    this.#lastTrouble = null;
    this.options.logger.info(`registered ${this.options.service} at ${this.options.url} again`);
  }

  /** A probe came: the registry knows us. The gap since the last one tells how slow its prober is. */
  #noteProbe(): void {
    const now = this.options.clock.now();
    // A probe may come before the registration's answer: no gap to measure yet.
    if (this.#registered) this.#longestProbeGapMs = Math.max(this.#longestProbeGapMs ?? 0, now - this.#lastProbeAt);
    this.#lastProbeAt = now;
    this.#unprobedRegistrations = 0;
  }

  /**
   * How long without a probe means the course's registry forgot us. Its prober reaches each of N
   * instances every 3·N s, and N is not told: so the wait follows the longest gap seen between
   * probes (until the first probe, the minimum counts as that gap), never under `forgottenAfterMs`.
   * A slow but regular prober never gets there. Each registration sent on suspicion that no probe
   * answered doubles it: a registry that takes registrations but does not probe is not sent one
   * every round.
   */
  #forgottenAfterMs(): number {
    const { forgottenAfterMs } = this.options;
    const longestGap = this.#longestProbeGapMs ?? forgottenAfterMs;
    const wait = Math.max(forgottenAfterMs, PROBE_GAPS_FORGOTTEN * longestGap);
    return wait * 2 ** Math.min(this.#unprobedRegistrations, MAX_FORGOTTEN_DOUBLINGS);
  }

  /**
   * The course's registry has no look-up and no renewal; it probes every instance it knows. When
   * no probe came for much longer than its prober has ever taken, it has most likely forgotten us
   * (restarted, or dropped us after failed probes): register again.
   */
  async #checkProbed(): Promise<void> {
    const { clock, service, url } = this.options;
    const forgottenAfterMs = this.#forgottenAfterMs();
    if (clock.now() - this.#lastProbeAt < forgottenAfterMs) return;
    try {
      this.#report(`the registry at ${this.registryUrl} has not probed ${this.options.heartbeatUrl} for ${forgottenAfterMs} ms (three times the longest gap seen between its probes, at least forgottenAfterMs): it most likely no longer knows ${url}; registering again`);
      await this.#registerCourse();
    } catch (error) {
      return this.#onCheckError(error);
    }
    this.#markUp();
    this.#lastProbeAt = clock.now();
    this.#unprobedRegistrations++;
    this.#suspectedRegistrations++;
    this.#lastTrouble = null;
    this.options.logger.info(`registered ${service} at ${url} again`);
  }

  /**
   * Deregistering in course mode. The course's registry keeps every registration it is sent, several
   * of one URL too, and each DELETE takes out the first entry with the URL. Registering again on
   * suspicion never deletes first (that would take out the only entry when the registry did know
   * us, and we cannot tell which it is): so each such registration may have left a duplicate, and
   * they all go here, one DELETE each, until the registry knows the URL no more (500, or 404 from
   * Roster's registry, which keeps one entry per URL). Answers the last DELETE's answer.
   */
  async #deleteCourseEntries(): Promise<Answer> {
    const most = Math.min(MAX_COURSE_DUPLICATES, 1 + this.#suspectedRegistrations);
    let answer = await this.#deleteCourseEntry();
    for (let sent = 1; sent < most && answer.status === 200; sent++) {
      const next = await this.#deleteCourseEntry();
      if (next.status !== 200) break;
      answer = next;
    }
    this.#suspectedRegistrations = 0;
    return answer;
  }

  #deleteCourseEntry(): Promise<Answer> {
    return this.#http.send('DELETE', '/services', { text: this.options.url, contentType: 'text/plain' });
  }

  #onCheckError(error: unknown): void {
    const unreachable = error instanceof RosterError && error.code === 'REGISTRY_UNREACHABLE';
    if (unreachable) return this.#onRegistryError(error);
    this.#report(error instanceof Error ? error.message : String(error), error);
  }

  /** A keep-alive trouble: a warning the first time, a debug line while it stays the same. */
  #report(message: string, cause?: unknown): void {
    if (message === this.#lastTrouble) return this.options.logger.debug(message);
    this.#lastTrouble = message;
    this.#warn(cause instanceof Error && cause.message === message ? cause : new Error(message, { cause }));
  }

  #markUp(): boolean {
    if (!this.#registryDown) return false;
    this.#registryDown = false;
    this.options.logger.info(`the registry is reachable again at ${this.registryUrl}`);
    return true;
  }

  #onRegistryError(error: unknown): void {
    const unreachable = error instanceof RosterError && error.code === 'REGISTRY_UNREACHABLE';
    if (!unreachable) return this.#warn(error);
    if (this.#registryDown) return;
    this.#registryDown = true;
    this.options.logger.warn(`${error.message}; serving the last known providers and retrying`);
    this.emit('warning', error);
  }

  #warn(error: unknown): void {
    const err = error instanceof Error ? error : new Error(String(error));
    this.options.logger.warn(err.message);
    this.emit('warning', err);
  }

  #whyNone(service: string): string {
    if (!this.#cache.requires(service)) return `it is not in this client's requires: [${this.options.requires.join(', ')}]`;
    if (this.waitingForRegistry) return `this client is waiting for the registry (${this.options.registryUrls.join(', ')}) to register it`;
    if (!this.#registered) return 'this client has not registered yet; call register() first';
    return 'the registry lists no passing instance; is it running?';
  }

  #failRequest(res: ServerResponse, error: unknown): void {
    this.#warn(error);
    if (res.headersSent) res.destroy();
    else sendError(res, internal('this service failed to handle the request; see its log'));
  }
}

/** The fields that differ between what we registered and what the registry now holds. */
function identityChanges(mine: Identity, view: InstanceView | undefined): string[] {
  if (typeof view?.service !== 'string') return [];
  const changes: string[] = [];
  const compare = (field: string, ours: unknown, theirs: unknown): void => {
    if (ours !== theirs) changes.push(`${field} ${JSON.stringify(theirs)}, registered ${JSON.stringify(ours)}`);
  };
  compare('service', mine.service, view.service);
  compare('updateUrl', mine.updateUrl, view.updateUrl ?? null);
  compare('heartbeatUrl', mine.heartbeatUrl, view.heartbeatUrl ?? null);
  if (mine.owner !== undefined && view.owner !== undefined) compare('owner', mine.owner, view.owner);
  return changes;
}

/** NO_PROVIDER with instances passing: the tags excluded them all, or they all weigh 0. */
function noMatch(service: string, passing: number, tags: readonly string[] | undefined): string {
  const filter = tags && tags.length > 0 ? ` with tags ${JSON.stringify(tags)}` : '';
  return `no instance of service "${service}"${filter} is available (${passing} passing, none${filter ? ' carries all these tags with' : ' has'} a weight above 0)`;
}

function errorCode(answer: Answer): unknown {
  return (answer.body as { code?: unknown } | undefined)?.code;
}

function providerUrls(providers: Record<string, ProviderView[] | undefined>): Map<string, string[]> {
  return new Map(Object.entries(providers).map(([service, list]) => [service, (list ?? []).map((p) => p.url)]));
}

/** Passing and not in maintenance (or still draining): what dependents may call. */
function inRotation(instance: InstanceView): boolean {
  return instance.health === 'passing' && (!instance.maintenance || instance.maintenance.draining);
}

/** Passing instance URLs per service: the view a full state gives. */
function passingUrls(instances: readonly InstanceView[]): Map<string, string[]> {
  const views = new Map<string, string[]>();
  for (const instance of instances) {
    if (!inRotation(instance)) continue;
    const urls = views.get(instance.service);
    if (urls) urls.push(instance.url);
    else views.set(instance.service, [instance.url]);
  }
  return views;
}

function checkShape(ok: boolean, what: string): void {
  if (!ok) throw registryError(`unexpected answer to ${what}: is this a Roster registry (protocol "roster")?`);
}

function quoteAll(names: readonly string[]): string {
  return names.map((name) => `"${name}"`).join(', ');
}
