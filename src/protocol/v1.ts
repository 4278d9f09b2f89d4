// Roster's own JSON API, served under /v1 (see docs/api.md).

export type Health = 'passing' | 'critical';

/**
 * How the registry learns that an instance is alive: `probe` — it probes the heartbeat URL (or
 * waits for renewals, in TTL mode); `session` — the instance's client holds a session stream
 * (`GET /v1/instances/{id}/session`) open and answers its pings.
 */
export type Liveness = 'probe' | 'session';

/** What a service sends to register an instance through `POST /v1/instances`. */
export interface RegisterRequest {
  service: string;
  url: string;
  requires?: string[];
  /** Where the registry POSTs patches; omit it to poll or watch instead. */
  updateUrl?: string;
  /** Probed with GET; omit it to renew through `POST /v1/instances/{id}/renew` (TTL mode). */
  heartbeatUrl?: string;
  /** TTL mode only: how long the instance stays passing without a renewal. */
  ttlMs?: number;
  /** Default 'probe'. 'session' takes neither heartbeatUrl nor ttlMs. */
  liveness?: Liveness;
  metadata?: InstanceMetadata;
}

export interface InstanceMetadata {
  version?: string;
  /** Routing: a provider() call with tags picks only instances that carry all of them. */
  tags?: string[];
  /** Routing: share of the picks, 0 to 1000 (default 100; 0: registered but never picked). */
  weight?: number;
  /** Routing: callers in the same zone pick this instance before those of other zones. */
  zone?: string;
  [key: string]: unknown;
}

/** One registered instance as the registry reports it. */
export interface InstanceView {
  id: string;
  service: string;
  url: string;
  requires: string[];
  updateUrl: string | null;
  heartbeatUrl: string | null;
  ttlMs: number | null;
  /** How its liveness is known; course registrations are always 'probe'. Absent means 'probe'. */
  liveness?: Liveness;
  metadata: InstanceMetadata;
  health: Health;
  /** Which API registered it. */
  protocol: 'course' | 'v1';
  /** The name of the credential that owns it ("course" for a course registration; null with authentication off). */
  owner: string | null;
  registeredAt: string;
  /** Revision of the instance's latest change. */
  revision: number;
  lastCheckAt: string | null;
  lastCheckMs: number | null;
  lastError: string | null;
  criticalSince: string | null;
  /** Set while the instance is in maintenance (its own, or its service's); null or absent otherwise. */
  maintenance?: InstanceMaintenance | null;
}

/**
 * Why and since when an instance is out of rotation. Dependents are told `Removed` at once, or
 * when `drainUntil` comes (while `draining` is true they still see it); it stays registered and probed.
 */
export interface InstanceMaintenance {
  reason: string;
  since: string;
  /** The credential that put it in maintenance (null with authentication off). */
  by: string | null;
  /** 'service': the whole service is in maintenance, this instance with it. */
  scope: 'instance' | 'service';
  drainUntil: string | null;
  /** True while dependents still see it, until drainUntil. */
  draining: boolean;
}

/** `PUT /v1/instances/{id}/maintenance` and `PUT /v1/services/{name}/maintenance`. */
export interface MaintenanceRequest {
  reason: string;
  /** Dependents are told `Removed` after this many milliseconds instead of at once. */
  drainMs?: number;
}

export interface RegisterResponse {
  instance: InstanceView;
  revision: number;
  /** Passing instances of each required service, as of `revision`. */
  providers: Record<string, ProviderView[]>;
  /** Whether the initial patch reached the update URL before this answer (null: no update URL). */
  delivered: boolean | null;
  /**
   * The instance's own secret: every patch and heartbeat probe the registry sends it is signed
   * with it (docs/api.md, "Signed notifications"). Only its owner ever sees it.
   */
  signingKey: string | null;
}

export interface ProviderView {
  service: string;
  url: string;
  id: string;
  metadata: InstanceMetadata;
}

export interface ServiceView {
  name: string;
  instances: InstanceView[];
  passing: number;
  critical: number;
  requires: string[];
  requiredBy: string[];
}

export interface ServicesResponse {
  revision: number;
  services: ServiceView[];
}

export interface StateResponse {
  revision: number;
  instances: InstanceView[];
}

export interface RegistryHealthResponse {
  status: 'ok' | 'stopping';
  revision: number;
  instances: number;
  uptimeMs: number;
  version: string;
  /** "single", or in cluster mode "leader" or "follower". */
  role: 'single' | 'leader' | 'follower';
  /** Cluster mode: the URL of the node that leads (null while none is elected). */
  leader?: string | null;
  /**
   * Whether the registry suspects itself (many instances turned critical at once) and holds
   * their removal; `since` is ISO time. Absent on a cluster node that does not lead.
   */
  selfPreservation?: { active: boolean; since: string | null; reason: string | null };
}

/** Every /v1 error travels as this body with a 4xx or 5xx status. */
export interface ErrorBody {
  code: string;
  message: string;
}
