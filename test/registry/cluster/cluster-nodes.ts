// Registry nodes in cluster mode, started as `roster registry --store etcd` starts them, in
// this process, on 127.0.0.1:0.
import type { TestContext } from 'node:test';
import { startRegistry, type RunningRegistry, type StartRegistryOptions } from '../../../src/registry/start-registry.js';
import type { ClusterRegistry } from '../../../src/registry/cluster/cluster-registry.js';
import { ADMIN_TOKEN, untilLeading } from './cluster-helpers.js';

export interface ClusterNode extends RunningRegistry {
  cluster: ClusterRegistry;
}

const FAST_HEALTH = { intervalMs: 50, jitter: 0, timeoutMs: 500, attempts: 1, retryDelayMs: 0 };

/** A node, closed after the test (unless `closedBy` takes that on). */
export async function startNode(t: TestContext | null, endpoints: string[], prefix: string, extra: Partial<StartRegistryOptions> = {}): Promise<ClusterNode> {
  const running = await startRegistry({
    host: '127.0.0.1',
    port: 0,
    store: 'etcd',
    etcdEndpoints: endpoints,
    etcdPrefix: prefix,
    auth: { adminToken: ADMIN_TOKEN },
    health: FAST_HEALTH,
    ...extra,
  });
  t?.after(() => running.close());
  return { ...running, cluster: running.registry as ClusterRegistry };
}

/** A leader (started first, and leading before the follower starts) and a follower that knows it. */
export async function startPair(t: TestContext, endpoints: string[], prefix: string, extra: Partial<StartRegistryOptions> = {}): Promise<{ leader: ClusterNode; follower: ClusterNode }> {
  const leader = await startNode(null, endpoints, prefix, extra);
  // The leader closes first, and the follower once it has taken over: a follower closed while
  // it still campaigns would leave etcd3's wait for the leader's key behind, and that watch
  // keeps retrying (on a timer that holds the process open) once the etcd client is closed.
  let follower: ClusterNode | undefined;
  t.after(async () => {
    await leader.close();
    if (follower) await untilLeading(follower.cluster);
    await follower?.close();
  });
  await untilLeading(leader.cluster);
  follower = await startNode(null, endpoints, prefix, extra);
  if ((await follower.cluster.leaderKnown(10_000)) !== leader.url) throw new Error(`the follower did not learn that ${leader.url} leads`);
  return { leader, follower };
}
