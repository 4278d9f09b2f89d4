// The registry's core: the catalog, who hears of each change, and the health checks that feed it.
// It knows nothing of HTTP; the transports (course routes, /v1) call into it, and the
// adapters it needs (a notification channel, a prober) are handed in.
import { EventEmitter } from 'node:events';
import { instanceNotFound, invalidRequest, limitReached, notOwner, notTtlInstance, registryStopping } from '../protocol/errors.js';
import type { PatchEntry } from '../protocol/course.js';
import type { RegisterResponse, ServiceView } from '../protocol/v1.js';
import { Catalog, inRotation, toView, type InstanceRecord, type Registration } from './catalog.js';
import { MaintenanceBook } from './maintenance.js';
import { CatalogReader } from './catalog-reader.js';
import { systemClock, sleep, type Clock } from '../shared/clock.js';
import { HealthChecker, type HealthEvent } from './health/health-checker.js';
import type { Prober } from './health/prober.js';
import type { NotificationChannel } from './notify/channel.js';
import { Notifier, type NotifierEvent } from './notify/notifier.js';
import { resolveRegistryOptions, type RegistryOptions, type RegistryOptionsInput } from './options.js';
import type { Caller, RegistryApi, RegistryEvents, RegistryRole, SessionHost } from './registry-api.js';
import { SessionTracker, type SessionConnection } from './health/sessions.js';
import { emitReporting, silentLogger, type Logger } from '../shared/logger.js';
import { BatchWriter } from './store/batch-writer.js';
import { admitInstance } from './admission.js';
import { LimitRejections } from './limits.js';
import { createOutboundPolicy, type OutboundPolicy } from './outbound-policy.js';
import { nextSigningKey, SigningKeys } from './signing-keys.js';
import type { RegistryStore } from './store/store.js';
import { SelfPreservation, type SelfPreservationEvent, type SelfPreservationStatus } from './health/self-preservation.js';

// Defined with the API every registry shares; re-exported where they were first defined.
export type { Logger } from '../shared/logger.js';
export type { RegistryChange, RegistryEvents } from './registry-api.js';

export interface RegistryInit {
  channel: NotificationChannel;
  probe: Prober;
  clock?: Clock;
  options?: RegistryOptionsInput;
  logger?: Logger;
  /** Where the state survives restarts; without one it lives in this process only. */
  store?: RegistryStore;
  /** Source of jitter; tests pin it. */
  random?: () => number;
  /** Counts refusals by limit; startRegistry shares one with /metrics. */
  rejections?: LimitRejections;
}

export class Registry extends EventEmitter<RegistryEvents> implements RegistryApi {
  readonly options: RegistryOptions;
  readonly startedAt: number;
  readonly #catalog = new Catalog();
  /** instance(), instances(), services(), service(): the read path ClusterRegistry shares. */
  readonly #reads = new CatalogReader(this.#catalog);
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #notifier: Notifier;
  readonly #health: HealthChecker;
  /** Holds removals while many instances turn critical at once (health/self-preservation.ts). */
  readonly #selfPreservation: SelfPreservation;
  /** Session liveness: which session instances hold a stream open. */
  readonly #sessions: SessionTracker;
  readonly sessions: SessionHost;
  /** Instances and services out of rotation (maintenance.ts). */
  readonly maintenance: MaintenanceBook;
  readonly #store: RegistryStore | undefined;
  /** Hands changes to the store in batches; absent when nothing is persisted. */
  readonly #writer: BatchWriter | undefined;
  /** While restoring, re-queued patches are already in the store. */
  #restoring = false;
  #closing: Promise<void> | null = null;
  /** Initial patches whose registration is waiting for the first delivery attempt. */
  readonly #awaitingFirstAttempt = new Map<string, () => void>();
  readonly #outbound: OutboundPolicy;
  readonly #rejections: LimitRejections;
  /** Keys that sign patches, by update URL, and probes, by heartbeat URL. */
  readonly #updateKeys = new SigningKeys();
  readonly #heartbeatKeys = new SigningKeys();

  constructor(init: RegistryInit) {
    super();
    this.options = resolveRegistryOptions(init.options);
    this.#clock = init.clock ?? systemClock;
    this.#logger = init.logger ?? silentLogger;
    this.startedAt = this.#clock.now();
    this.#outbound = createOutboundPolicy(this.options.outbound.allow);
    this.#rejections = init.rejections ?? new LimitRejections();
    this.#store = init.store;
    this.#writer = init.store && new BatchWriter(init.store, () => this.#catalog.revision, (error) => this.#logger.error({ err: error }, 'could not write registry changes to the store'));
    this.#notifier = new Notifier({
      channel: init.channel,
      clock: this.#clock,
      options: this.options.notify,
      limits: this.options.limits,
      rejections: this.#rejections,
      random: init.random,
      logger: this.#logger,
      onEvent: (event) => this.#onNotifierEvent(event),
    });
    this.#selfPreservation = new SelfPreservation({
      clock: this.#clock,
      options: this.options.selfPreservation,
      defaultWindowMs: this.options.health.intervalMs,
      census: {
        countOf: (service) => this.#catalog.countOfService(service),
        total: () => this.#catalog.size,
        isCritical: (id) => this.#catalog.get(id)?.health === 'critical',
      },
      onEvent: (event) => this.#onSelfPreservation(event),
    });
    this.#health = new HealthChecker({
      holdsExpiry: (id) => this.#selfPreservation.holds(id),
      probe: init.probe,
      clock: this.#clock,
      options: this.options.health,
      random: init.random,
      logger: this.#logger,
      onEvent: (event) => this.#onHealthEvent(event),
    });
    const { sessionPingMs, sessionStallMs, sessionGraceMs, sessionRestoreGraceMs } = this.options;
    this.#sessions = new SessionTracker({
      clock: this.#clock,
      options: { sessionPingMs, sessionStallMs, sessionGraceMs, sessionRestoreGraceMs },
      // The health checker's state change path: dependents, the store and events hear as for a probe.
      onChange: (id, alive, reason) => this.#health.setSessionHealth(id, alive, reason),
    });
    this.sessions = this.#sessionHost();
    this.maintenance = new MaintenanceBook({
      catalog: this.#catalog,
      clock: this.#clock,
      writer: this.#writer,
      notify: (service, added, removed, revision) => this.#notifyDependents(service, added, removed, revision),
      emit: (change) => this.#emit('change', change),
      assertMayChange,
    });
  }

  /**
   * Resumes from the store: every instance comes back with its health, revisions continue
   * upward, health checks start at once, and undelivered patches are queued again in order.
   */
  async restore(): Promise<{ instances: number; pending: number }> {
    if (!this.#store) return { instances: 0, pending: 0 };
    const snapshot = await this.#store.load();
    const now = this.#clock.now();
    this.#catalog.restore(snapshot.revision, snapshot.instances);
    this.maintenance.restore(snapshot.serviceMaintenance ?? [], snapshot.instances);
    for (const record of snapshot.instances) {
      this.#trackKeys(record);
      const { id, heartbeatUrl, ttlMs, health, criticalSince } = record;
      const session = record.liveness === 'session';
      // A TTL instance could not renew while the registry was down: its TTL starts afresh.
      this.#health.track({ id, heartbeatUrl, ttlMs, health, criticalSince, lastRenewAt: now, session });
      // A session instance gets a window to reconnect before it turns critical.
      if (session) this.#sessions.expect(id, this.options.sessionRestoreGraceMs, health === 'critical');
    }
    this.#restoring = true;
    for (const entry of snapshot.outbox) {
      void this.#notifier.enqueue(entry.target, { Added: entry.added, Removed: entry.removed, Revision: entry.revision }, entry.prevRevision);
    }
    this.#restoring = false;
    this.#logger.info({ store: this.#store.description, revision: this.revision, instances: snapshot.instances.length, pending: snapshot.outbox.length }, 'registry state restored');
    return { instances: snapshot.instances.length, pending: snapshot.outbox.length };
  }

  get revision(): number {
    return this.#catalog.revision;
  }

  get closing(): boolean {
    return this.#closing !== null;
  }

  /**
   * Registers (or updates) an instance. Before it resolves, the instance's update URL has been
   * sent the current instances of every service it requires (or `delivered` says it could not
   * be, in which case delivery goes on being retried).
   */
  async register(registration: Registration, caller?: Caller): Promise<RegisterResponse & { created: boolean }> {
    this.#assertOpen();
    const existing = this.#catalog.getByUrl(registration.url);
    assertMayChange(existing, caller);
    this.#outbound.check(registration);
    admitInstance(this.#catalog, registration, this.options.limits, this.#rejections);
    const { record, previous } = this.#catalog.upsert(registration, this.#clock.now(), signingKeyFor(registration, existing));
    this.maintenance.registered(record);
    this.#writer?.upsert(record);
    if (previous) this.#untrackKeys(previous);
    this.#trackKeys(record);
    this.#announceRegistration(previous, record, previous !== undefined && this.#selfPreservation.released(previous.id));
    this.#forgetUpdateUrl(previous?.updateUrl ?? null, record.updateUrl);
    const session = record.liveness === 'session';
    this.#health.track({ id: record.id, heartbeatUrl: record.heartbeatUrl, ttlMs: record.ttlMs, health: 'passing', session });
    if (session) this.#sessions.expect(record.id);
    else this.#sessions.forget(record.id);
    this.#logger.info({ service: record.service, url: record.url, revision: record.revision }, previous ? 'instance re-registered' : 'instance registered');
    this.#emit('change', { type: 'registered', revision: record.revision, instance: record });

    const providers = Object.fromEntries(record.requires.map((name) => [name, this.#catalog.passing(name)]));
    const [delivered] = await Promise.all([this.#sendInitialPatch(record, Object.values(providers).flat()), this.persisted()]);
    return {
      created: previous === undefined,
      instance: toView(record),
      revision: record.revision,
      providers: Object.fromEntries(
        Object.entries(providers).map(([name, list]) => [
          name,
          list.map((p) => ({ service: p.service, url: p.url, id: p.id, metadata: p.metadata })),
        ]),
      ),
      delivered,
      signingKey: record.signingKey,
    };
  }

  /** Removes an instance for good; its dependents hear `Removed` if they could still see it. */
  deregister(id: string, caller?: Caller): InstanceRecord | undefined {
    assertMayChange(this.#catalog.get(id), caller);
    const record = this.#catalog.remove(id);
    if (!record) return undefined;
    this.#writer?.delete(id);
    this.#health.untrack(id);
    this.#sessions.forget(id);
    this.#untrackKeys(record);
    const wasHeld = this.#selfPreservation.released(id);
    this.maintenance.forget(id);
    if (inRotation(record) || wasHeld) this.#notifyDependents(record.service, [], [entry(record)], record.revision);
    this.#forgetUpdateUrl(record.updateUrl, null);
    this.#logger.info({ service: record.service, url: record.url, revision: record.revision }, 'instance deregistered');
    this.#emit('change', { type: 'deregistered', revision: record.revision, instance: record });
    return record;
  }

  deregisterByUrl(url: string, caller?: Caller): InstanceRecord | undefined {
    const record = this.#catalog.getByUrl(url);
    return record && this.deregister(record.id, caller);
  }

  /** TTL mode: the instance says it is alive. */
  renew(id: string, caller?: Caller): InstanceRecord {
    const record = this.#catalog.get(id);
    if (!record) throw instanceNotFound(id);
    assertMayChange(record, caller);
    if (record.heartbeatUrl) {
      throw notTtlInstance(record.url, record.heartbeatUrl);
    }
    this.#health.renew(id);
    this.#heardFrom(record);
    return record;
  }

  instance(id: string): InstanceRecord {
    return this.#reads.instance(id);
  }

  instances(): InstanceRecord[] {
    return this.#reads.instances();
  }

  services(): ServiceView[] {
    return this.#reads.services();
  }

  service(name: string): ServiceView {
    return this.#reads.service(name);
  }

  /**
   * The `roster-signature` header for a patch `body` POSTed to `target`, keyed by the instance
   * whose update URL it is; null when no instance there has a key (course instances).
   */
  signatureFor(target: string, body: string): string | null {
    return this.#updateKeys.sign(target, body, this.#clock.now());
  }

  /** The `roster-signature` header for a probe of `heartbeatUrl`, or null (course instances). */
  probeSignatureFor(heartbeatUrl: string): string | null {
    return this.#heartbeatKeys.signProbe(heartbeatUrl, this.#clock.now());
  }

  /** Undelivered patches per subscriber (update URL). */
  pendingNotifications(target: string): number {
    return this.#notifier.pending(target);
  }

  /** Whether the registry suspects itself and holds removals (GET /v1/health, /metrics). */
  selfPreservation(): SelfPreservationStatus {
    return this.#selfPreservation.status;
  }

  role(): RegistryRole {
    return { role: 'single' };
  }

  /** Undelivered patches of every subscriber that has any. */
  notificationQueues(): Map<string, number> {
    return this.#notifier.queueDepths();
  }

  /** Bytes of every undelivered patch, bounded by limits.outboxBytesTotal. */
  notificationBytes(): number {
    return this.#notifier.queuedBytes;
  }

  /**
   * Stops health checks, lets in-flight deliveries finish within `graceMs` and writes what is
   * left to the store: patches still undelivered are delivered after the next start.
   */
  close(graceMs = this.options.shutdownGraceMs): Promise<void> {
    this.#closing ??= (async () => {
      this.#sessions.close();
      this.maintenance.close();
      this.#selfPreservation.close();
      await this.#health.close();
      await this.#notifier.close(graceMs);
      await this.persisted().catch((error: Error) => this.#logger.error({ err: error }, 'could not write the last changes to the store'));
    })();
    return this.#closing;
  }

  #sessionHost(): SessionHost {
    const sessions = this.#sessions;
    const sessionInstance = (id: string, caller: Caller | undefined): InstanceRecord => {
      const record = this.#catalog.get(id);
      if (!record) throw instanceNotFound(id);
      assertMayChange(record, caller);
      if (record.liveness !== 'session') throw invalidRequest(`instance ${id} (${record.url}) was registered with liveness '${record.liveness ?? 'probe'}'; a session needs liveness 'session'`);
      return record;
    };
    return {
      get count() {
        return sessions.open;
      },
      open: (id, caller, connection: SessionConnection) => {
        this.#assertOpen();
        sessionInstance(id, caller);
        const { maxSessions } = this.options.limits;
        if (!sessions.connected(id) && sessions.open >= maxSessions) {
          this.#rejections.count('maxSessions');
          throw limitReached('maxSessions', maxSessions, `the registry holds ${sessions.open} open sessions`);
        }
        return sessions.connect(id, connection);
      },
      closed: (id, token) => sessions.disconnect(id, token),
      ping: (id, caller, token) => {
        sessionInstance(id, caller);
        return sessions.heard(id, token);
      },
    };
  }

  /** The outbox in the store follows the notifier: queued, then done when delivered or dropped. */
  #recordDelivery(event: NotifierEvent): void {
    if (!this.#writer) return;
    if (event.type === 'enqueued' && !this.#restoring) {
      const { Added, Removed, Revision, PrevRevision } = event.patch;
      this.#writer.enqueued({ target: event.target, revision: Revision, prevRevision: PrevRevision, added: Added, removed: Removed });
    } else if (event.type === 'delivered') {
      this.#writer.done(event.target, event.revision);
    } else if (event.type === 'dropped' && event.reason !== 'closed') {
      // Closing drops nothing for good: what was not delivered stays in the store for the next start.
      for (const revision of event.revisions) this.#writer.done(event.target, revision);
    }
  }

  /** Resolves once every change so far is in the store. */
  persisted(): Promise<void> {
    return this.#writer?.flush() ?? Promise.resolve();
  }

  /** Dependents learn of a new instance, of one that came back, or of one that changed service. */
  #announceRegistration(previous: InstanceRecord | undefined, record: InstanceRecord, wasHeld = false): void {
    // A held critical instance is still in its dependents' view.
    const wasVisible = previous !== undefined && (inRotation(previous) || wasHeld);
    // An instance in maintenance stays out of its dependents' view when it registers again.
    const visible = inRotation(record);
    if (wasVisible && (previous.service !== record.service || !visible)) {
      this.#notifyDependents(previous.service, [], [entry(previous)], record.revision);
    }
    if (visible && !(wasVisible && previous.service === record.service)) {
      this.#notifyDependents(record.service, [entry(record)], [], record.revision);
    }
  }

  async #sendInitialPatch(record: InstanceRecord, providers: InstanceRecord[]): Promise<boolean | null> {
    if (!record.updateUrl) return null;
    // A re-registering instance may have patches waiting behind a long backoff: try them now.
    this.#notifier.retryNow(record.updateUrl);
    const delivery = this.#notifier.enqueue(record.updateUrl, {
      Added: providers.map(entry),
      Removed: [],
      Revision: record.revision,
    });
    // Answer as soon as the first attempt failed (delivery goes on being retried), or after a bound.
    const key = `${record.updateUrl} ${record.revision}`;
    const stopWaiting = new AbortController();
    const firstFailure = new Promise<false>((resolve) => this.#awaitingFirstAttempt.set(key, () => resolve(false)));
    const timeout = sleep(this.#clock, this.options.initialDeliveryWaitMs, stopWaiting.signal).then(() => false);
    const delivered = await Promise.race([delivery, firstFailure, timeout]);
    stopWaiting.abort();
    this.#awaitingFirstAttempt.delete(key);
    return delivered;
  }

  #notifyDependents(service: string, added: PatchEntry[], removed: PatchEntry[], revision: number): void {
    const targets = new Set(this.#catalog.dependentsOf(service).flatMap((d) => (d.updateUrl ? [d.updateUrl] : [])));
    for (const target of targets) {
      void this.#notifier.enqueue(target, { Added: added, Removed: removed, Revision: revision });
    }
  }

  /** Drops the delivery queue of an update URL that no instance uses any more. */
  #forgetUpdateUrl(oldUrl: string | null, newUrl: string | null): void {
    if (!oldUrl || oldUrl === newUrl) return;
    const stillUsed = this.#catalog.list().some((record) => record.updateUrl === oldUrl);
    if (!stillUsed) this.#notifier.remove(oldUrl);
  }

  /** A subscriber the notifier gave up on is alive again: what it missed was dropped, so it gets the whole picture. */
  #heardFrom(record: InstanceRecord): void {
    if (!record.updateUrl || !this.#notifier.heardFrom(record.updateUrl)) return;
    const added = record.requires.flatMap((name) => this.#catalog.passing(name)).map(entry);
    void this.#notifier.enqueue(record.updateUrl, { Added: added, Removed: [], Revision: this.#catalog.revision });
  }

  #onHealthEvent(event: HealthEvent): void {
    if (event.type === 'checked') {
      this.#catalog.recordCheck(event.id, event.at, event.latencyMs, event.error);
      const record = event.error === null ? this.#catalog.get(event.id) : undefined;
      if (record) this.#heardFrom(record);
      this.#emit('probe', event);
      return;
    }
    if (event.type === 'expired') {
      const record = this.deregister(event.id);
      if (record) this.#logger.warn({ service: record.service, url: record.url }, 'instance expired after its grace period');
      return;
    }
    const reason = event.type === 'critical' ? event.reason : null;
    if (!this.#catalog.setHealth(event.id, event.type, event.at, reason)) return;
    const record = this.#catalog.get(event.id) as InstanceRecord;
    this.#writer?.upsert(record);
    // A held instance stays in its dependents' view: they hear neither its going nor its return.
    const held = event.type === 'critical' ? this.#selfPreservation.critical(record.id, record.service) : this.#selfPreservation.released(record.id);
    const [added, removed] = event.type === 'passing' ? [[entry(record)], []] : [[], [entry(record)]];
    // An instance in maintenance is already out of its dependents' view: its health changes nothing there.
    const outOfRotation = record.maintenance !== null && record.maintenance !== undefined && !record.maintenance.draining;
    if (!held && !outOfRotation) this.#notifyDependents(record.service, added, removed, record.revision);
    this.#logger.info({ service: record.service, url: record.url, reason }, `instance is ${event.type}`);
    this.#emit('change', { type: event.type, revision: record.revision, instance: record });
  }

  /**
   * Starting, dependents hear again of the instances they were told had gone in the window;
   * ending, they hear of the held instances still critical going, which expire in turn.
   */
  #onSelfPreservation(event: SelfPreservationEvent): void {
    const ids = event.type === 'started' ? event.restored : event.stillCritical;
    for (const id of ids) {
      const record = this.#catalog.get(id);
      // One in maintenance is out of its dependents' view either way.
      if (!record || (record.maintenance && !record.maintenance.draining)) continue;
      this.#touch(record);
      const [added, removed] = event.type === 'started' ? [[entry(record)], []] : [[], [entry(record)]];
      this.#notifyDependents(record.service, added, removed, record.revision);
    }
    const state = this.#selfPreservation.state;
    if (event.type === 'started') this.#logger.warn({ reason: event.reason, held: this.#selfPreservation.heldCount }, 'self-preservation on: many instances turned critical at once; their removal is held while probing goes on');
    else this.#logger.warn({ cause: event.cause, removed: ids.length }, 'self-preservation off: normal removal rules again');
    this.#emit('selfPreservation', state);
  }

  /** A new revision for `id` with nothing else changed, so that a patch about it is not taken for one already seen. */
  #touch(record: InstanceRecord): void {
    record.revision = this.#catalog.revision + 1;
    this.#catalog.put(record);
    this.#writer?.upsert(record);
  }

  #onNotifierEvent(event: NotifierEvent): void {
    this.#recordDelivery(event);
    if (event.type === 'failed') {
      this.#awaitingFirstAttempt.get(`${event.target} ${event.revision}`)?.();
      this.#logger.warn({ target: event.target, revision: event.revision, attempt: event.attempt, retryInMs: event.retryInMs, error: event.error }, 'notification failed; will retry');
    } else if (event.type === 'dropped') {
      this.#logger.warn({ target: event.target, count: event.count, reason: event.reason }, 'notifications dropped');
    }
    this.#emit('notification', event);
  }

  #trackKeys(record: InstanceRecord): void {
    this.#updateKeys.add(record.updateUrl, record.id, record.signingKey);
    this.#heartbeatKeys.add(record.heartbeatUrl, record.id, record.signingKey);
  }

  #untrackKeys(record: InstanceRecord): void {
    this.#updateKeys.remove(record.updateUrl, record.id);
    this.#heartbeatKeys.remove(record.heartbeatUrl, record.id);
  }

  /** Listeners hear every event; one that throws is reported through the logger (shared/logger.ts). */
  #emit<K extends keyof RegistryEvents>(event: K, ...args: RegistryEvents[K]): void {
    emitReporting(this, this.#logger, event, ...args);
  }

  #assertOpen(): void {
    if (this.#closing) throw registryStopping();
  }
}

function entry(record: InstanceRecord): PatchEntry {
  return { Name: record.service, URL: record.url };
}

/**
 * An instance belongs to the credential that registered it: another credential may neither
 * re-register its URL (under any name or update URL) nor remove it. Admins may; so may anyone
 * when the instance has no owner (registered with authentication off).
 */
function assertMayChange(existing: InstanceRecord | undefined, caller: Caller | undefined): void {
  if (!existing || !caller || caller.admin || existing.owner === null || existing.owner === caller.name) return;
  throw notOwner(existing.url, existing.owner, caller.name);
}

/** Course instances cannot check signatures; a v1 instance keeps its key while its owner stays. */
function signingKeyFor(registration: Registration, existing: InstanceRecord | undefined): string | null {
  if (registration.protocol === 'course') return null;
  if (existing?.signingKey && existing.owner === registration.owner) return existing.signingKey;
  return nextSigningKey();
}

