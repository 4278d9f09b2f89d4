// What the HTTP layer needs of a registry. A single registry (Registry) provides it; in cluster
// mode a ClusterRegistry provides it on every node, reading from etcd and writing through the
// elected leader.
import type { EventEmitter } from 'node:events';
import type { RegisterResponse } from '../protocol/v1.js';
import type { InstanceRecord, Registration } from './catalog.js';
import type { CatalogReads } from './catalog-reader.js';
import type { HealthEvent } from './health/health-checker.js';
import type { NotifierEvent } from './notify/notifier.js';
import type { RegistryOptions } from './options.js';
import type { SessionConnection } from './health/sessions.js';
import type { MaintenanceHost } from './maintenance.js';
import type { SelfPreservationState, SelfPreservationStatus } from './health/self-preservation.js';

/** Emitted as 'change' after every change of the catalog, with the revision it made. */
export interface RegistryChange {
  type: 'registered' | 'deregistered' | 'passing' | 'critical';
  revision: number;
  instance: InstanceRecord;
}

/** A probe's outcome, as the 'probe' event carries it. */
export type ProbeEvent = Extract<HealthEvent, { type: 'checked' }>;

/**
 * A registry's events. 'change' after every change of the catalog; on the node that runs
 * health checks and notifications also 'probe' and 'notification'; in cluster mode 'leader'
 * with the URL of the node that leads, each time one is elected.
 */
export type RegistryEvents = {
  change: [change: RegistryChange];
  probe: [event: ProbeEvent];
  notification: [event: NotifierEvent];
  leader: [url: string];
  /** Self-preservation started or ended (health/self-preservation.ts). */
  selfPreservation: [state: SelfPreservationState];
};

/**
 * Who asks for a change: the name of the credential, and whether it is an admin (which may
 * act on any instance). Without a caller a change is the registry's own (expiry) or
 * authentication is off.
 */
export interface Caller {
  name: string;
  admin: boolean;
}

export interface RegistryApi extends EventEmitter<RegistryEvents>, CatalogReads {
  readonly options: RegistryOptions;
  readonly startedAt: number;
  readonly revision: number;
  readonly closing: boolean;
  /** Refused with NOT_OWNER when the URL is registered under another owner and `caller` is no admin. */
  register(registration: Registration, caller?: Caller): Promise<RegisterResponse & { created: boolean }>;
  deregister(id: string, caller?: Caller): InstanceRecord | undefined;
  deregisterByUrl(url: string, caller?: Caller): InstanceRecord | undefined;
  renew(id: string, caller?: Caller): InstanceRecord;
  /** Resolves once every change made so far is stored: a route answers a change only after it. */
  persisted(): Promise<void>;
  /** Single registry, or in cluster mode whether this node leads and which node does. */
  role(): RegistryRole;
  /** Undelivered patches per subscriber; empty on a node that does not deliver. */
  notificationQueues(): Map<string, number>;
  /** Bytes of every undelivered patch (limits.outboxBytesTotal bounds them); absent on a node that does not deliver. */
  notificationBytes?(): number;
  /** Whether removals are held because many instances turned critical at once; absent on a node that does not probe. */
  selfPreservation?(): SelfPreservationStatus | undefined;
  /** Session liveness (GET /v1/instances/{id}/session); absent where sessions are not held (cluster mode). */
  readonly sessions?: SessionHost;
  /** Maintenance (PUT/DELETE …/maintenance); in cluster mode the leader's. */
  readonly maintenance?: MaintenanceHost;
}

/** What the session routes need of a registry. */
export interface SessionHost {
  /** Open session streams. */
  readonly count: number;
  /**
   * Opens the session of instance `id` (INSTANCE_NOT_FOUND, NOT_OWNER, INVALID_REQUEST for an
   * instance without session liveness, LIMIT_REACHED over limits.maxSessions); returns its token.
   */
  open(id: string, caller: Caller | undefined, connection: SessionConnection): number;
  /** The stream `token` of `id` closed. */
  closed(id: string, token: number): void;
  /** The client pinged: true while its session is open. INSTANCE_NOT_FOUND when it is not registered. */
  ping(id: string, caller: Caller | undefined, token?: number): boolean;
}

export type RegistryRole = { role: 'single' } | { role: 'leader' | 'follower'; leader: string | null };
