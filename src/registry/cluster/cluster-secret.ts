// The cluster secret: random, made by whichever node starts first, kept in etcd for every
// node. A node forwarding a write proves with it that it is a node of this cluster.
import type { Etcd3 } from 'etcd3';
import { internal } from '../../protocol/errors.js';
import { newSecret } from '../auth/admin-token.js';

export function clusterSecretKey(prefix: string): string {
  return `${prefix}cluster-secret`;
}

/** Reads `<prefix>cluster-secret`, creating it first in a transaction when absent. */
export async function loadClusterSecret(client: Etcd3, prefix: string): Promise<string> {
  const key = clusterSecretKey(prefix);
  // Only the first node's put succeeds; every node then reads the one that did.
  await client.if(key, 'Create', '==', 0).then(client.put(key).value(newSecret())).commit();
  const secret = await client.get(key).string();
  if (!secret) throw internal(`the cluster secret ${key} could not be read from etcd`);
  return secret;
}
