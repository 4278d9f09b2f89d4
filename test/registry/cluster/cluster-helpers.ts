// What the cluster tests share: fresh key prefixes on one etcd, records, and waits on events.
import { once } from 'node:events';
import type { EventEmitter } from 'node:events';
import type { InstanceRecord } from '../../../src/registry/catalog.js';
import type { ClusterRegistry } from '../../../src/registry/cluster/cluster-registry.js';
import type { RegistryChange } from '../../../src/registry/registry.js';

let prefixes = 0;

/** A key prefix no other test of this process uses: each test has a cluster of its own. */
export function freshPrefix(): string {
  return `/roster-test-${process.pid}-${++prefixes}/`;
}

export function record(service: string, revision: number, extra: Partial<InstanceRecord> = {}): InstanceRecord {
  const url = `http://${service.toLowerCase()}.test`;
  return {
    id: `id-${service}`, service, url, requires: [], updateUrl: null, heartbeatUrl: null, ttlMs: 60_000,
    metadata: {}, health: 'passing', protocol: 'v1', owner: 'admin', signingKey: null, registeredAt: 1_767_225_000_000,
    revision, lastCheckAt: null, lastCheckMs: null, lastError: null, criticalSince: null, ...extra,
  };
}

/** Collects an emitter's 'change' events; `next(n)` resolves once n have arrived in all. */
export function changesOf(emitter: EventEmitter): { seen: RegistryChange[]; count(n: number): Promise<RegistryChange[]> } {
  const seen: RegistryChange[] = [];
  emitter.on('change', (change: RegistryChange) => seen.push(change));
  return {
    seen,
    async count(n) {
      while (seen.length < n) await once(emitter, 'change');
      return seen.slice(0, n);
    },
  };
}

/** Resolves once `cluster` leads (it emits 'leader' when it has taken over). */
export async function untilLeading(cluster: ClusterRegistry): Promise<void> {
  while (!cluster.isLeader) await once(cluster, 'leader');
}

/** Every node of the cluster tests accepts this admin token; a forwarded write keeps its identity. */
export const ADMIN_TOKEN = 'cluster-unit-test-admin-token-0123456789';
