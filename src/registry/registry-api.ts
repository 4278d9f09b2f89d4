// What the HTTP layer needs of a registry. A single registry (Registry) provides it; in cluster
// mode a ClusterRegistry provides it on every node, reading from etcd and writing through the
// elected leader.
import type { EventEmitter } from 'node:events';
import type { RegisterResponse, ServiceView } from '../protocol/v1.js';
import type { InstanceRecord, Registration } from './catalog.js';
import type { RegistryOptions } from './options.js';

/**
 * Events: 'change' (RegistryChange) after every change of the catalog; on the node that runs
 * health checks and notifications also 'probe' (a HealthEvent of type 'checked') and
 * 'notification' (a NotifierEvent).
 */
export interface RegistryApi extends EventEmitter {
  readonly options: RegistryOptions;
  readonly startedAt: number;
  readonly revision: number;
  readonly closing: boolean;
  register(registration: Registration): Promise<RegisterResponse & { created: boolean }>;
  deregister(id: string): InstanceRecord | undefined;
  deregisterByUrl(url: string): InstanceRecord | undefined;
  renew(id: string): InstanceRecord;
  instance(id: string): InstanceRecord;
  instances(): InstanceRecord[];
  services(): ServiceView[];
  service(name: string): ServiceView;
  /** Single registry, or in cluster mode whether this node leads and which node does. */
  role(): RegistryRole;
  /** Undelivered patches per subscriber; empty on a node that does not deliver. */
  notificationQueues(): Map<string, number>;
}

export type RegistryRole = { role: 'single' } | { role: 'leader' | 'follower'; leader: string | null };
