// In cluster mode every node accepts writes; a node that does not lead passes them on to the
// one that does, as they came, and answers with the leader's answer. The node checks the
// caller's credential itself (the access guard runs first) and passes on who the caller is,
// vouched for by the cluster secret; the caller's own token never travels further.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Agent, request } from 'undici';
import { noLeader, type RosterError } from '../../protocol/errors.js';
import { CALLER_HEADER, FORWARDED_HEADER, SOURCE_HEADER, encodeCaller } from '../auth/forwarded.js';
import { trustingCa } from '../../shared/exchange.js';
import type { ClusterRegistry } from './cluster-registry.js';

const FORWARD_TIMEOUT_MS = 30_000;
/** Longer than an election after a leader's lease (3 s) runs out. */
const ELECTION_WAIT_MS = 5_000;

export function isWrite(method: string, path: string): boolean {
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return false;
  if (path.startsWith('/v1/services/') && path.endsWith('/maintenance')) return true;
  return path === '/services' || path === '/v1/instances' || path.startsWith('/v1/instances/');
}

export interface ForwardOptions {
  /** PEM of a CA trusted besides the public ones, as the channel and the prober take it. */
  ca?: string;
}

/**
 * Adds the hook that forwards writes; returns a function that closes its connections. Add it
 * after the access guard, which must have checked the caller first.
 */
export function forwardWritesToLeader(app: FastifyInstance, cluster: ClusterRegistry, options: ForwardOptions = {}): () => Promise<void> {
  const agent = new Agent({ keepAliveTimeout: 10_000, connections: 16, connect: trustingCa(options.ca) });
  app.addHook('onRequest', async (req, reply) => {
    if (cluster.isLeader || !isWrite(req.method, req.url.split('?')[0] ?? '')) return;
    await forward(req, reply, cluster, agent);
  });
  return () => agent.close();
}

async function forward(req: FastifyRequest, reply: FastifyReply, cluster: ClusterRegistry, agent: Agent): Promise<void> {
  // A request already forwarded once must not travel on: leadership is changing hands.
  if (req.headers[FORWARDED_HEADER]) throw leaderUnavailable();
  // Between a leader's death and its successor's election, a write waits rather than fails.
  const leader = await cluster.leaderKnown(ELECTION_WAIT_MS);
  if (!leader) throw leaderUnavailable();
  if (leader === cluster.leaderUrl && cluster.isLeader) return; // elected here meanwhile: serve it locally
  const secret = cluster.clusterSecret;
  if (!secret) throw leaderUnavailable();
  // The leader counts course callers and anonymous writes by their source address: ours would
  // make every caller behind this node share one window.
  const headers: Record<string, string> = { [FORWARDED_HEADER]: secret, [SOURCE_HEADER]: req.ip };
  if (req.principal) headers[CALLER_HEADER] = encodeCaller(req.principal);
  for (const name of ['content-type', 'content-length'] as const) {
    const value = req.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  try {
    const answer = await request(new URL(req.url, leader), {
      method: req.method as 'POST',
      headers,
      body: req.method === 'GET' ? undefined : req.raw,
      dispatcher: agent,
      headersTimeout: FORWARD_TIMEOUT_MS,
      bodyTimeout: FORWARD_TIMEOUT_MS,
    });
    const body = Buffer.from(await answer.body.arrayBuffer());
    // The leader's refusals say when to retry (429 RATE_LIMITED): pass that on with the body.
    for (const name of ['content-type', 'retry-after'] as const) {
      const value = answer.headers[name];
      if (typeof value === 'string') reply.header(name, value);
    }
    await reply.code(answer.statusCode).send(body);
  } catch (error) {
    req.log.warn({ err: (error as Error).message, leader }, 'could not forward a write to the leader');
    throw leaderUnavailable();
  }
}

function leaderUnavailable(): RosterError {
  return noLeader('no registry leader could take this write right now; retry in a few seconds');
}
