// Starts a registry: the core, its HTTP adapters and a listening server.
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { addressInUse, etcdUnreachable, hostNotAvailable } from '../protocol/errors.js';
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
import { prepareSecurity, type RegistryAuthOptions, type RegistryTlsOptions } from './auth/registry-security.js';
import type { RegistryCourseOptions } from './http/server.js';
import { etcdClientSecurity, type EtcdAuthOptions, type EtcdTlsOptions } from './cluster/etcd-credentials.js';
import { readCaFile } from '../shared/exchange.js';

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
  /**
   * Authentication is on unless `insecure`. The admin token is <dataDir>/admin.token (made on
   * first start), or held in memory when there is no data folder (a memory store without an
   * explicit dataDir); `RunningRegistry.adminToken` gives it either way.
   */
  auth?: RegistryAuthOptions;
  /** The course API (/services): on by default, loopback callers only. */
  course?: RegistryCourseOptions;
  /** cert + key: serve HTTPS. ca (default env ROSTER_TLS_CA): trusted for outbound HTTPS. */
  tls?: RegistryTlsOptions;
  /** Cluster mode: TLS towards etcd. */
  etcdTls?: EtcdTlsOptions;
  /** Cluster mode: etcd user; default env ROSTER_ETCD_USERNAME / ROSTER_ETCD_PASSWORD. */
  etcdAuth?: EtcdAuthOptions;
  /** How often the tokens file is checked for changes. Default 1000 ms. */
  tokensWatchIntervalMs?: number;
}

export interface RunningRegistry {
  url: string;
  port: number;
  registry: RegistryApi;
  app: FastifyInstance;
  /** The admin token's secret, for the embedding program (never logged); null with auth off. */
  adminToken: string | null;
  /** Stops probing, stops accepting, lets deliveries finish within the grace period. Idempotent. */
  close(): Promise<void>;
}

export async function startRegistry(input: StartRegistryOptions = {}): Promise<RunningRegistry> {
  const options = withEnvironment(input);
  if (options.store === 'etcd') return startClusterNode(options);
  const host = options.host ?? 'localhost';
  const port = options.port ?? 3000;
  const security = await prepareSecurity(securityInput(options), options.logger ?? silentLogger);
  const store = openStore(options);
  const ca = readCaFile(options.tls?.ca);
  const channel = new HttpChannel({ sign: (target, body): string | null => registry.signatureFor(target, body), ca });
  const prober = createHttpProber({ sign: (url): string | null => registry.probeSignatureFor(url), ca });
  const registry = new Registry({
    channel,
    probe: prober.probe,
    store,
    clock: options.clock,
    logger: options.logger,
    options,
  });
  const app = buildRegistryServer(registry, { logger: options.logger, version: VERSION, clock: options.clock, ...security.server });
  const close = once(async () => {
    security.credentials?.close();
    await Promise.all([app.close(), registry.close()]);
    await Promise.all([channel.close(), prober.close(), store.close()]);
  });
  const actualPort = await prepareAndListen(app, host, port, close, () => registry.restore());
  security.credentials?.watch();
  return { url: `${security.scheme}://${host}:${actualPort}`, port: actualPort, registry, app, adminToken: security.adminToken, close };
}

/** Cluster mode: follows etcd, listens, then stands for leader. */
async function startClusterNode(options: StartRegistryOptions): Promise<RunningRegistry> {
  const host = options.host ?? 'localhost';
  const port = options.port ?? 3000;
  const hosts = options.etcdEndpoints ?? ['http://127.0.0.1:2379'];
  // Loaded only in cluster mode: the etcd client (gRPC, protobuf) weighs ~30 MB of memory.
  const { Etcd3 } = await import('etcd3');
  const security = await prepareSecurity(securityInput(options), options.logger ?? silentLogger);
  const client = new Etcd3({ hosts, dialTimeout: 3000, ...(await etcdClientSecurity(options.etcdTls, options.etcdAuth, process.env)) });
  const ca = readCaFile(options.tls?.ca);
  const channel = new HttpChannel({ sign: (target, body): string | null => cluster.signatureFor(target, body), ca });
  const prober = createHttpProber({ sign: (url): string | null => cluster.probeSignatureFor(url), ca });
  const logger = options.logger ?? silentLogger;
  const cluster = new ClusterRegistry({ client, prefix: options.etcdPrefix, channel, probe: prober.probe, clock: options.clock, logger, options });
  const app = buildRegistryServer(cluster, { logger: options.logger, version: VERSION, clock: options.clock, ...security.server, clusterSecret: () => cluster.clusterSecret });
  // After the access guard (added by buildRegistryServer): the caller is checked here first.
  const closeForwarding = forwardWritesToLeader(app, cluster, { ca });
  const close = once(async () => {
    security.credentials?.close();
    await Promise.all([app.close(), cluster.close()]);
    await Promise.all([channel.close(), prober.close(), closeForwarding()]);
    client.close();
  });
  const actualPort = await prepareAndListen(app, host, port, close, () =>
    cluster.follow().catch((error: Error) => {
      throw etcdUnreachable(hosts, error);
    }),
  );
  security.credentials?.watch();
  const url = `${security.scheme}://${host}:${actualPort}`;
  cluster.campaign(options.advertiseUrl ?? url);
  return { url, port: actualPort, registry: cluster, app, adminToken: security.adminToken, close };
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

/** The CA for outbound HTTPS defaults to ROSTER_TLS_CA, as in every other part of Roster. */
function withEnvironment(options: StartRegistryOptions): StartRegistryOptions {
  const ca = options.tls?.ca ?? (process.env.ROSTER_TLS_CA || undefined);
  return ca === undefined ? options : { ...options, tls: { ...options.tls, ca } };
}

/** There is a data folder to keep admin.token in when one is named, or the SQLite store's default. */
function securityInput(options: StartRegistryOptions): Parameters<typeof prepareSecurity>[0] {
  const dataDir = options.dataDir ?? (options.store === 'sqlite' ? './data' : null);
  return { auth: options.auth, course: options.course, tls: options.tls, dataDir, env: process.env, tokensWatchIntervalMs: options.tokensWatchIntervalMs };
}

function openStore(options: StartRegistryOptions): RegistryStore {
  if (typeof options.store === 'object') return options.store;
  if (options.store === 'sqlite') return new SqliteStore(join(options.dataDir ?? './data', 'registry.db'));
  return new MemoryStore();
}

/** A listen failure a user can act on: which port, and which option changes it. */
export function listenError(error: unknown, host: string, port: number): Error {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'EADDRINUSE') {
    return addressInUse({ port }, 'stop whatever holds it, or choose another port with --port', error);
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    return hostNotAvailable(host, '--host', error);
  }
  return error instanceof Error ? error : new Error(String(error));
}
