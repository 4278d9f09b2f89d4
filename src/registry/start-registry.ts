// Starts a registry: the core, its HTTP adapters and a listening server.
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { RosterError } from '../protocol/errors.js';
import { VERSION } from '../version.js';
import { createHttpProber } from './health/prober.js';
import { buildRegistryServer } from './http/server.js';
import { HttpChannel } from './notify/http-channel.js';
import { Registry, type Logger } from './registry.js';
import type { RegistryOptionsInput } from './options.js';
import type { Clock } from '../shared/clock.js';
import { join } from 'node:path';
import { ClusterRegistry } from './cluster/cluster-registry.js';
import { forwardWritesToLeader } from './cluster/forward-writes.js';
import type { RegistryApi } from './registry-api.js';
import { MemoryStore } from './store/memory-store.js';
import { SqliteStore } from './store/sqlite-store.js';
import type { RegistryStore } from './store/store.js';

export interface StartRegistryOptions extends RegistryOptionsInput {
  host?: string;
  port?: number;
  /**
   * "memory" (the default here; the CLI defaults to "sqlite"), "sqlite", "etcd" (cluster mode),
   * or a store of your own.
   */
  store?: 'memory' | 'sqlite' | 'etcd' | RegistryStore;
  /** Folder of the SQLite file (registry.db). Default "./data". */
  dataDir?: string;
  /** Cluster mode: the etcd cluster's client URLs. */
  etcdEndpoints?: string[];
  /** Cluster mode: where Roster's keys live in etcd. Default "/roster/". */
  etcdPrefix?: string;
  /** Cluster mode: the URL other nodes reach this one at. Default http://<host>:<port>. */
  advertiseUrl?: string;
  logger?: FastifyServerOptions['loggerInstance'] & Logger;
  clock?: Clock;
}

export interface RunningRegistry {
  url: string;
  port: number;
  registry: RegistryApi;
  app: FastifyInstance;
  /** Stops probing, stops accepting, lets deliveries finish within the grace period. Idempotent. */
  close(): Promise<void>;
}

export async function startRegistry(options: StartRegistryOptions = {}): Promise<RunningRegistry> {
  if (options.store === 'etcd') return startClusterNode(options);
  const host = options.host ?? 'localhost';
  const port = options.port ?? 3000;
  const store = openStore(options);
  const channel = new HttpChannel();
  const prober = createHttpProber();
  const registry = new Registry({
    channel,
    probe: prober.probe,
    store,
    clock: options.clock,
    logger: options.logger,
    options,
  });
  const app = buildRegistryServer(registry, { logger: options.logger, version: VERSION });
  const close = once(async () => {
    await Promise.all([app.close(), registry.close()]);
    await Promise.all([channel.close(), prober.close(), store.close()]);
  });
  const actualPort = await prepareAndListen(app, host, port, close, () => registry.restore());
  return { url: `http://${host}:${actualPort}`, port: actualPort, registry, app, close };
}

/** Cluster mode: follows etcd, listens, then stands for leader. */
async function startClusterNode(options: StartRegistryOptions): Promise<RunningRegistry> {
  const host = options.host ?? 'localhost';
  const port = options.port ?? 3000;
  const hosts = options.etcdEndpoints ?? ['http://127.0.0.1:2379'];
  // Loaded only in cluster mode: the etcd client (gRPC, protobuf) weighs ~30 MB of memory.
  const { Etcd3 } = await import('etcd3');
  const client = new Etcd3({ hosts, dialTimeout: 3000 });
  const channel = new HttpChannel();
  const prober = createHttpProber();
  const logger = options.logger ?? silentLogger;
  const cluster = new ClusterRegistry({ client, prefix: options.etcdPrefix, channel, probe: prober.probe, clock: options.clock, logger, options });
  const app = buildRegistryServer(cluster, { logger: options.logger, version: VERSION });
  const closeForwarding = forwardWritesToLeader(app, cluster);
  const close = once(async () => {
    await Promise.all([app.close(), cluster.close()]);
    await Promise.all([channel.close(), prober.close(), closeForwarding()]);
    client.close();
  });
  const actualPort = await prepareAndListen(app, host, port, close, () =>
    cluster.follow().catch((error: Error) => {
      throw new RosterError('INVALID_OPTION', `cannot reach etcd at ${hosts.join(', ')}: ${error.message}; start etcd or fix --etcd-endpoints`, { cause: error });
    }),
  );
  const url = `http://${host}:${actualPort}`;
  cluster.campaign(options.advertiseUrl ?? url);
  return { url, port: actualPort, registry: cluster, app, close };
}

/** Runs `prepare`, then listens; on any failure closes everything and says what to change. */
async function prepareAndListen(app: FastifyInstance, host: string, port: number, close: () => Promise<void>, prepare: () => Promise<unknown>): Promise<number> {
  try {
    await prepare();
    await app.listen({ host, port });
  } catch (error) {
    await close();
    throw listenError(error, host, port);
  }
  const address = app.server.address();
  return typeof address === 'object' && address ? address.port : port;
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}

const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function openStore(options: StartRegistryOptions): RegistryStore {
  if (typeof options.store === 'object') return options.store;
  if (options.store === 'sqlite') return new SqliteStore(join(options.dataDir ?? './data', 'registry.db'));
  return new MemoryStore();
}

/** A listen failure a user can act on: which port, and which option changes it. */
export function listenError(error: unknown, host: string, port: number): Error {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'EADDRINUSE') {
    return new RosterError('INVALID_OPTION', `port ${port} is already in use: stop whatever holds it, or choose another port with --port`, { cause: error });
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    return new RosterError('INVALID_OPTION', `cannot listen on host "${host}": it is not an address of this machine; choose another with --host`, { cause: error });
  }
  return error instanceof Error ? error : new Error(String(error));
}
