// A registry node in cluster mode. Every node reads from its etcd mirror; one node at a time,
// elected through etcd, is the leader: it runs a Registry over an EtcdStore, so it alone
// probes instances and delivers notifications, and it resumes from the store when it takes
// over. Other nodes pass writes on to it (see forward-writes.ts).
import { EventEmitter } from 'node:events';
import { z } from 'zod';
import type { Campaign, Election, ElectionObserver, Etcd3 } from 'etcd3';
import { invalidRequest, noLeader } from '../../protocol/errors.js';
import type { RegisterResponse, ServiceView } from '../../protocol/v1.js';
import type { InstanceRecord, Registration } from '../catalog.js';
import { CatalogReader, type CatalogReads } from '../catalog-reader.js';
import { sleep, systemClock, type Clock, type TimerHandle } from '../../shared/clock.js';
import { func, MAX_TIMER_MS, resolveOptions, withMethods } from '../../shared/options.js';
import { DEFAULT_START_OPTIONS, resolveRegistryOptions, type RegistryOptions, type RegistryOptionsInput } from '../options.js';
import type { Caller, RegistryApi, RegistryEvents, RegistryRole } from '../registry-api.js';
import { Registry } from '../registry.js';
import type { MaintenanceHost } from '../maintenance.js';
import type { LimitRejections } from '../limits.js';
import { emitReporting, type Logger } from '../../shared/logger.js';
import type { Prober } from '../health/prober.js';
import type { SelfPreservationStatus } from '../health/self-preservation.js';
import type { NotificationChannel } from '../notify/channel.js';
import { EtcdStore } from '../store/etcd-store.js';
import { EtcdMirror } from './etcd-mirror.js';
import { loadClusterSecret } from './cluster-secret.js';

/** A cluster node's own options, with their defaults (its registry options are `options`). */
const clusterOptionsSchema = z.strictObject({
  /** Where Roster's keys live in etcd. */
  prefix: z.string({ error: 'an etcd key prefix' }).min(1).default(DEFAULT_START_OPTIONS.etcdPrefix),
  /** How long a dead leader keeps the leadership before another node takes over: whole seconds, etcd's minimum is 2. */
  leaseTtlMs: z.number({ error: 'whole seconds in milliseconds, at least 2000 (etcd counts a lease in seconds)' }).int().min(2000).multipleOf(1000).max(MAX_TIMER_MS).default(3000),
});

export type ClusterOptions = z.output<typeof clusterOptionsSchema>;

/**
 * What a cluster node is made of: its own options and its collaborators, each checked by what it
 * must offer and kept as given. Its registry options (`options`) are resolved as the registry's.
 */
const clusterInitSchema = clusterOptionsSchema.extend({
  client: withMethods<Etcd3>(['election'], 'an etcd client (Etcd3)'),
  channel: withMethods<NotificationChannel>(['send', 'close'], 'a NotificationChannel (send, close)'),
  probe: func<Prober>('a Prober: a function (url, signal)'),
  clock: withMethods<Clock>(['now', 'setTimeout', 'clearTimeout'], 'a Clock (now, setTimeout, clearTimeout)').optional(),
  options: z.custom<RegistryOptionsInput>((value) => typeof value === 'object' && value !== null, { error: 'an object of registry options' }).optional(),
  logger: withMethods<Logger>(['debug', 'info', 'warn', 'error'], 'a Logger (debug, info, warn, error)'),
  /** Counts refusals by limit (the leader's instance limits); shared with /metrics. */
  rejections: withMethods<LimitRejections>(['count'], 'a LimitRejections').optional(),
});

export type ClusterInit = z.input<typeof clusterInitSchema>;

const RECAMPAIGN_DELAY_MS = 1000;
const LEADER_REFRESH_MS = 1000;
const ETCD_CLOSE_TIMEOUT_MS = 2000;

async function bounded(work: Promise<unknown> | undefined, clock: Clock): Promise<void> {
  if (!work) return;
  const stop = new AbortController();
  await Promise.race([work.catch(() => undefined), sleep(clock, ETCD_CLOSE_TIMEOUT_MS, stop.signal)]);
  stop.abort();
}

export class ClusterRegistry extends EventEmitter<RegistryEvents> implements RegistryApi {
  readonly options: RegistryOptions;
  readonly startedAt: number;
  readonly #init: Omit<z.output<typeof clusterInitSchema>, 'prefix' | 'leaseTtlMs'>;
  readonly #clock: Clock;
  readonly #prefix: string;
  readonly #mirror: EtcdMirror;
  /** Reads from the mirror while another node leads (the leader reads its own Registry). */
  readonly #mirrorReads: CatalogReads;
  readonly #election: Election;
  #observer: ElectionObserver | undefined;
  #campaign: Campaign | undefined;
  #leadership: Leadership | undefined;
  #leaderUrl: string | undefined;
  /** The next read of who leads; cleared by close(). */
  #leaderRefresh: TimerHandle | undefined;
  /** The next campaign after a lost or failed one; cleared by close(). */
  #recampaign: TimerHandle | undefined;
  /** Aborted by close(): ends every wait for a leader at once. */
  readonly #closed = new AbortController();
  /** This node's own URL: what other nodes forward writes to while it leads. */
  #selfUrl = '';
  #closing: Promise<void> | undefined;
  /** Proves to the leader that a forwarded write comes from a node of this cluster. */
  #clusterSecret: string | undefined;
  /** The Registry that probes and delivers on this node, from its first send while it restores. */
  #signer: Registry | undefined;

  constructor(init: ClusterInit) {
    super();
    const { prefix, leaseTtlMs, ...resolved } = resolveOptions(clusterInitSchema, init, { owner: 'ClusterRegistry' });
    this.#init = resolved;
    this.#clock = resolved.clock ?? systemClock;
    this.startedAt = this.#clock.now();
    this.options = resolveRegistryOptions(resolved.options);
    this.#prefix = prefix;
    this.#mirror = new EtcdMirror(init.client, this.#prefix, init.logger);
    this.#mirrorReads = new CatalogReader(this.#mirror.catalog);
    this.#mirror.on('change', (change) => this.#emit('change', change));
    // etcd counts a lease in seconds.
    this.#election = init.client.election(`${this.#prefix}leader`, leaseTtlMs / 1000);
  }

  /** The leader signs its patches and probes with the keys of its own Registry. */
  signatureFor(target: string, body: string): string | null {
    return this.#signer?.signatureFor(target, body) ?? null;
  }

  probeSignatureFor(heartbeatUrl: string): string | null {
    return this.#signer?.probeSignatureFor(heartbeatUrl) ?? null;
  }

  /** Loads the catalog from etcd and follows it, and learns who leads. */
  async follow(): Promise<void> {
    this.#clusterSecret = await loadClusterSecret(this.#init.client, this.#prefix);
    await this.#mirror.start();
    this.#observer = await this.#election.observe();
    // The observer says when something changed; who leads is read from etcd each time, and
    // again every second: an observer that starts while candidates are still appearing can
    // report a candidate that is not the leader.
    this.#observer.on('change', () => void this.#refreshLeader());
    await this.#refreshLeader();
    this.#scheduleLeaderRefresh();
  }

  // The next read is scheduled before this one runs: a read that hangs on etcd stops no other.
  #scheduleLeaderRefresh(): void {
    if (this.#closing) return;
    this.#leaderRefresh = this.#clock.setTimeout(() => {
      this.#scheduleLeaderRefresh();
      void this.#refreshLeader();
    }, LEADER_REFRESH_MS);
  }

  async #refreshLeader(): Promise<void> {
    const url = await this.#election.leader().catch(() => this.#leaderUrl);
    if (url === this.#leaderUrl || this.#closing) return;
    this.#leaderUrl = url;
    this.#init.logger.info({ leader: url ?? null }, url ? `registry leader is ${url}` : 'no registry leader');
    if (url) this.#emit('leader', url);
  }

  /** The secret that writes forwarded between nodes carry; known once follow() has run. */
  get clusterSecret(): string | undefined {
    return this.#clusterSecret;
  }

  /** Stands for leader, announcing `selfUrl` (where this node listens) to the others. */
  campaign(selfUrl: string): void {
    this.#selfUrl = selfUrl;
    this.#runCampaign();
  }

  /** True while this node is the leader. */
  get isLeader(): boolean {
    return this.#leader !== undefined;
  }

  /** The URL of the node that leads now, if any is elected. */
  get leaderUrl(): string | undefined {
    return this.#leader ? this.#selfUrl : this.#leaderUrl;
  }

  /**
   * The leader's URL as soon as one is known: at once, or when an election ends within
   * `timeoutMs`; undefined if none is elected by then.
   */
  async leaderKnown(timeoutMs: number): Promise<string | undefined> {
    if (this.leaderUrl) return this.leaderUrl;
    if (this.#closing) return undefined;
    const closed = this.#closed.signal;
    return new Promise((resolve) => {
      // Whichever comes first (an election, the timeout, close()) removes the other two.
      const done = (url?: string): void => {
        this.#clock.clearTimeout(timer);
        this.off('leader', done);
        closed.removeEventListener('abort', onClose);
        resolve(url);
      };
      const onClose = (): void => done();
      const timer = this.#clock.setTimeout(onClose, timeoutMs);
      this.on('leader', done);
      closed.addEventListener('abort', onClose, { once: true });
    });
  }

  get revision(): number {
    return this.#leader?.revision ?? this.#mirror.catalog.revision;
  }

  get closing(): boolean {
    return this.#closing !== undefined;
  }

  register(registration: Registration, caller?: Caller): Promise<RegisterResponse & { created: boolean }> {
    // A session may land on any node, but liveness held per node is not built yet: refused, not half-kept.
    if (registration.liveness === 'session') return Promise.reject(invalidRequest("liveness 'session' is not available in cluster mode yet; register with liveness 'probe'"));
    return this.#leading().register(registration, caller);
  }

  deregister(id: string, caller?: Caller): InstanceRecord | undefined {
    return this.#leading().deregister(id, caller);
  }

  deregisterByUrl(url: string, caller?: Caller): InstanceRecord | undefined {
    return this.#leading().deregisterByUrl(url, caller);
  }

  persisted(): Promise<void> {
    return this.#leading().persisted();
  }

  renew(id: string, caller?: Caller): InstanceRecord {
    return this.#leading().renew(id, caller);
  }

  /** Maintenance is a write: served by the leader (other nodes forward it there). */
  get maintenance(): MaintenanceHost {
    return this.#leading().maintenance;
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

  /** The leader answers from its Registry, the others from their mirror: the same read path. */
  get #reads(): CatalogReads {
    return this.#leader ?? this.#mirrorReads;
  }

  role(): RegistryRole {
    return { role: this.isLeader ? 'leader' : 'follower', leader: this.leaderUrl ?? null };
  }

  notificationQueues(): Map<string, number> {
    return this.#leader?.notificationQueues() ?? new Map();
  }

  notificationBytes(): number {
    return this.#leader?.notificationBytes() ?? 0;
  }

  /** The leader probes, so it alone decides; another node answers undefined (it does not know). */
  selfPreservation(): SelfPreservationStatus | undefined {
    return this.#leader?.selfPreservation();
  }

  /** Resigns (another node takes over at once), stops leading, stops following. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed.abort();
      this.#clearTimers();
      const campaign = this.#campaign;
      this.#campaign = undefined;
      await this.#stepDown();
      // Each step talks to etcd, which may be gone: none may hold the shutdown up for long.
      await bounded(campaign?.resign(), this.#clock);
      await bounded(this.#observer?.cancel(), this.#clock);
      await bounded(this.#mirror.close(), this.#clock);
    })();
    return this.#closing;
  }

  #clearTimers(): void {
    if (this.#leaderRefresh !== undefined) this.#clock.clearTimeout(this.#leaderRefresh);
    if (this.#recampaign !== undefined) this.#clock.clearTimeout(this.#recampaign);
    this.#leaderRefresh = undefined;
    this.#recampaign = undefined;
  }

  #leading(): Registry {
    if (this.#leader) return this.#leader;
    throw noLeader();
  }

  #runCampaign(): void {
    if (this.#closing) return;
    const campaign = this.#election.campaign(this.#selfUrl);
    this.#campaign = campaign;
    campaign.on('elected', () => void this.#becomeLeader(campaign));
    campaign.on('error', (error: Error) => {
      this.#init.logger.warn({ err: error.message }, 'lost the registry leadership');
      void this.#stepDown().then(() => this.#campaignAgainLater(campaign));
    });
  }

  /** Takes over: a Registry over the etcd store, restored from it, probing and delivering. */
  async #becomeLeader(campaign: Campaign): Promise<void> {
    let leadership: Leadership | undefined;
    try {
      const guardKey = await campaign.getCampaignKey();
      leadership = this.#newLeadership(guardKey);
      const { registry } = leadership;
      const restored = await registry.restore();
      if (this.#campaign !== campaign) return void (await closeLeadership(leadership, 0));
      this.#leadership = leadership;
      this.#emit('leader', this.#selfUrl);
      this.#init.logger.info({ ...restored, revision: registry.revision }, `this node (${this.#selfUrl}) is the registry leader`);
    } catch (error) {
      this.#init.logger.error({ err: (error as Error).message }, 'could not take over as leader; campaigning again');
      if (leadership) await closeLeadership(leadership, 0);
      await campaign.resign().catch((resignError: Error) => this.#init.logger.warn({ err: resignError.message }, 'could not resign after a failed takeover'));
      this.#campaignAgainLater(campaign);
    }
  }

  #newLeadership(guardKey: string): Leadership {
    const { channel, probe, logger, client, rejections } = this.#init;
    const store = new EtcdStore(client, { prefix: this.#prefix, guardKey });
    // The leader's core admits every write of the cluster (the others forward theirs to it).
    const registry = new Registry({ channel, probe, clock: this.#clock, logger, store, options: this.options, rejections });
    this.#signer = registry;
    registry.on('probe', (event) => this.#emit('probe', event));
    registry.on('notification', (event) => this.#emit('notification', event));
    registry.on('selfPreservation', (state) => this.#emit('selfPreservation', state));
    return { registry, store };
  }

  /** Stands again after a pause, unless `campaign` was replaced or this node is closing. */
  #campaignAgainLater(campaign: Campaign): void {
    if (this.#campaign !== campaign || this.#closing) return;
    if (this.#recampaign !== undefined) this.#clock.clearTimeout(this.#recampaign);
    this.#recampaign = this.#clock.setTimeout(() => {
      this.#recampaign = undefined;
      this.#runCampaign();
    }, RECAMPAIGN_DELAY_MS);
  }

  async #stepDown(): Promise<void> {
    const leadership = this.#leadership;
    this.#leadership = undefined;
    if (leadership) await bounded(closeLeadership(leadership), this.#clock);
  }

  /** Listeners hear every event; one that throws is reported through the logger (shared/logger.ts). */
  #emit<K extends keyof RegistryEvents>(event: K, ...args: RegistryEvents[K]): void {
    emitReporting(this, this.#init.logger, event, ...args);
  }

  get #leader(): Registry | undefined {
    return this.#leadership?.registry;
  }
}

/** What this node runs while it leads: a Registry and the etcd store it alone writes to. */
interface Leadership {
  registry: Registry;
  store: EtcdStore;
}

async function closeLeadership({ registry, store }: Leadership, graceMs?: number): Promise<void> {
  await registry.close(graceMs);
  await store.close();
}
