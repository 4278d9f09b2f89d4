// Starts a registry: the core, its HTTP adapters and a listening server. The HTTP server
// (fastify, prom-client) is loaded when a registry starts, not when roster/registry is imported.
import type { FastifyServerOptions } from 'fastify';
import { addressInUse, etcdUnreachable, hostNotAvailable } from '../protocol/errors.js';
import { VERSION } from '../version.js';
import { createHttpProber } from './health/prober.js';
import type { RegistryServer, RegistryServerOptions } from './http/server.js';
import { changeLogOptionsSchema, type ChangeLogOptions } from './change-log.js';
import { watchOptionsSchema, type RegistryWatchOptions } from './http/server-options.js';
import { HttpChannel } from './notify/http-channel.js';
import { LimitRejections, resolveLimits } from './limits.js';
import { OriginGate } from './origin-gate.js';
import { Registry } from './registry.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import { z } from 'zod';
import { flag, oneOf, resolveOptions, text, wholeNumber, withMethods } from '../shared/options.js';
import { DEFAULT_START_OPTIONS, pickRegistryOptions, registryOptionsObject, type RegistryOptionsInput } from './options.js';
import type { Clock } from '../shared/clock.js';
import { join } from 'node:path';
import { ClusterRegistry } from './cluster/cluster-registry.js';
import { forwardWritesToLeader } from './cluster/forward-writes.js';
import type { RegistryApi } from './registry-api.js';
import { MemoryStore } from './store/memory-store.js';
import { SqliteStore, type SqliteStoreOptions } from './store/sqlite-store.js';
import type { RegistryStore } from './store/store.js';
import { prepareSecurity, registryAuthOptionsSchema, registryTlsOptionsSchema, tokensWatchIntervalSchema, type RegistryAuthOptions, type RegistryTlsOptions } from './auth/registry-security.js';
import { courseOptionsSchema, type RegistryCourseOptions } from './http/course-options.js';
import { etcdAuthOptionsSchema, etcdClientSecurity, etcdTlsOptionsSchema, type EtcdAuthOptions, type EtcdTlsOptions } from './cluster/etcd-credentials.js';
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
  /**
   * The SQLite store refuses damaged state at start (docs/operations.md, "Damaged state"); with
   * resetData it moves the damaged file aside as registry.db.damaged-<time> and starts empty.
   */
  resetData?: boolean;
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
  /** The watch stream (GET /v1/watch): its keep-alive and how much a slow reader may hold. */
  watch?: RegistryWatchOptions;
  /** How many recent changes are kept for watchers that reconnect with the revision they last saw. */
  changeLog?: ChangeLogOptions;
}

/**
 * Every option startRegistry takes besides the registry's own, so that one it does not know (a
 * misspelling) is refused rather than ignored. The registry's values and the server's own
 * settings (auth, tls, course, watch, changeLog) are checked here too, before anything opens;
 * what needs files or the environment (cert with key, etcd credentials) is checked when read,
 * still before the store opens.
 */
const START_ONLY_OPTIONS = {
  host: true,
  port: true,
  store: true,
  dataDir: true,
  resetData: true,
  etcdEndpoints: true,
  etcdPrefix: true,
  advertiseUrl: true,
  logger: true,
  clock: true,
  auth: true,
  course: true,
  tls: true,
  etcdTls: true,
  etcdAuth: true,
  tokensWatchIntervalMs: true,
  watch: true,
  changeLog: true,
} as const satisfies Record<Exclude<keyof StartRegistryOptions, keyof RegistryOptionsInput>, true>;

const startRegistryNames = registryOptionsObject.extend({
  ...Object.fromEntries(Object.keys(START_ONLY_OPTIONS).map((name) => [name, z.unknown().optional()])),
  host: text('a host name or IP address').optional(),
  port: wholeNumber(0, 65535, '0 picks a free port').optional(),
  store: z.union([oneOf(['memory', 'sqlite', 'etcd']), withMethods<RegistryStore>(['load', 'write', 'close'], 'a RegistryStore')], { error: '"memory", "sqlite", "etcd" or a RegistryStore (load, write, close)' }).optional(),
  dataDir: text('a folder path').optional(),
  resetData: flag().optional(),
  etcdEndpoints: z.array(text('an etcd client URL'), { error: 'a list of etcd client URLs' }).optional(),
  etcdPrefix: text('an etcd key prefix').optional(),
  advertiseUrl: text('the URL other nodes reach this one at').optional(),
  logger: withMethods<Logger>(['debug', 'info', 'warn', 'error'], 'a Logger (debug, info, warn, error)').optional(),
  clock: withMethods<Clock>(['now', 'setTimeout', 'clearTimeout'], 'a Clock (now, setTimeout, clearTimeout)').optional(),
  auth: registryAuthOptionsSchema.optional(),
  tls: registryTlsOptionsSchema.optional(),
  etcdTls: etcdTlsOptionsSchema.optional(),
  etcdAuth: etcdAuthOptionsSchema.optional(),
  tokensWatchIntervalMs: tokensWatchIntervalSchema.optional(),
  course: courseOptionsSchema.optional(),
  watch: watchOptionsSchema.optional(),
  changeLog: changeLogOptionsSchema.optional(),
});

export interface RunningRegistry {
  url: string;
  port: number;
  registry: RegistryApi;
  /** The HTTP app; `openWatchStreams` tells how many watch streams are open. */
  app: RegistryServer;
  /** The admin token's secret, for the embedding program (never logged); null with auth off. */
  adminToken: string | null;
  /** Stops probing, stops accepting, lets deliveries finish within the grace period. Idempotent. */
  close(): Promise<void>;
}

export async function startRegistry(input: StartRegistryOptions = {}): Promise<RunningRegistry> {
  resolveOptions(startRegistryNames, input, { owner: 'startRegistry' });
  const options = withEnvironment(input);
  if (options.store === 'etcd') return startClusterNode(options);
  const host = options.host ?? DEFAULT_START_OPTIONS.host;
  const port = options.port ?? DEFAULT_START_OPTIONS.port;
  const security = await prepareSecurity(securityInput(options), options.logger ?? silentLogger);
  const store = openStoreOr(options, () => security.credentials?.close());
  const ca = readCaFile(options.tls?.ca);
  const rejections = new LimitRejections();
  const gate = outboundGate(options, rejections);
  const channel = new HttpChannel({ sign: (target, body): string | null => registry.signatureFor(target, body), ca, gate });
  const prober = createHttpProber({ sign: (url): string | null => registry.probeSignatureFor(url), ca, gate });
  const registry = new Registry({
    channel,
    probe: prober.probe,
    rejections,
    store,
    clock: options.clock,
    logger: options.logger,
    options: pickRegistryOptions(options),
  });
  const { buildRegistryServer } = await import('./http/server.js');
  const app = buildRegistryServer(registry, { ...serverOptions(options), ...security.server, rejections });
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
  const host = options.host ?? DEFAULT_START_OPTIONS.host;
  const port = options.port ?? DEFAULT_START_OPTIONS.port;
  const hosts = options.etcdEndpoints ?? [...DEFAULT_START_OPTIONS.etcdEndpoints];
  // Loaded only in cluster mode: the etcd client (gRPC, protobuf) weighs ~30 MB of memory.
  const { Etcd3 } = await import('etcd3');
  const security = await prepareSecurity(securityInput(options), options.logger ?? silentLogger);
  const client = new Etcd3({ hosts, dialTimeout: 3000, ...(await etcdClientSecurity(options.etcdTls, options.etcdAuth, process.env)) });
  const ca = readCaFile(options.tls?.ca);
  const rejections = new LimitRejections();
  const gate = outboundGate(options, rejections);
  const channel = new HttpChannel({ sign: (target, body): string | null => cluster.signatureFor(target, body), ca, gate });
  const prober = createHttpProber({ sign: (url): string | null => cluster.probeSignatureFor(url), ca, gate });
  const logger = options.logger ?? silentLogger;
  const cluster = new ClusterRegistry({ client, prefix: options.etcdPrefix, channel, probe: prober.probe, clock: options.clock, logger, rejections, options: pickRegistryOptions(options) });
  const { buildRegistryServer } = await import('./http/server.js');
  const app = buildRegistryServer(cluster, { ...serverOptions(options), ...security.server, rejections, clusterSecret: () => cluster.clusterSecret });
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
async function prepareAndListen(app: RegistryServer, host: string, port: number, close: () => Promise<void>, prepare: () => Promise<unknown>): Promise<number> {
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

/** What the HTTP server takes of the options (the security part comes from prepareSecurity). */
/** One gate for patches and probes together: many instances behind one origin share its slots. */
function outboundGate(options: StartRegistryOptions, rejections: LimitRejections): OriginGate {
  const limits = resolveLimits(options.limits);
  const onRefused = (): void => rejections.count('outboundQueuePerOrigin');
  return new OriginGate({ concurrency: limits.outboundConcurrencyPerOrigin, maxWaiting: limits.outboundQueuePerOrigin, onRefused });
}

function serverOptions(options: StartRegistryOptions): RegistryServerOptions {
  const { logger, clock, watch, changeLog } = options;
  return { logger, version: VERSION, clock, watch, changeLog };
}

/** The CA for outbound HTTPS defaults to ROSTER_TLS_CA, as in every other part of Roster. */
function withEnvironment(options: StartRegistryOptions): StartRegistryOptions {
  const ca = options.tls?.ca ?? (process.env.ROSTER_TLS_CA || undefined);
  return ca === undefined ? options : { ...options, tls: { ...options.tls, ca } };
}

/** There is a data folder to keep admin.token in when one is named, or the SQLite store's default. */
function securityInput(options: StartRegistryOptions): Parameters<typeof prepareSecurity>[0] {
  const dataDir = options.dataDir ?? (options.store === 'sqlite' ? DEFAULT_START_OPTIONS.dataDir : null);
  return { auth: options.auth, course: options.course, tls: options.tls, dataDir, env: process.env, tokensWatchIntervalMs: options.tokensWatchIntervalMs };
}

/** A store that refuses to open (damaged state) leaves nothing of the start behind. */
function openStoreOr(options: StartRegistryOptions, release: () => void): RegistryStore {
  try {
    return openStore(options);
  } catch (error) {
    release();
    throw error;
  }
}

function openStore(options: StartRegistryOptions): RegistryStore {
  if (typeof options.store === 'object') return options.store;
  if (options.store === 'sqlite') return new SqliteStore(join(options.dataDir ?? DEFAULT_START_OPTIONS.dataDir, 'registry.db'), sqliteOptions(options));
  return new MemoryStore();
}

function sqliteOptions(options: StartRegistryOptions): SqliteStoreOptions {
  const logger = options.logger ?? silentLogger;
  const onReset = (aside: string, problem: string): void => logger.warn({ aside }, `starting afresh (resetData): the damaged state was moved aside as ${aside}; it was refused because ${problem}`);
  const onWarning = (message: string): void => logger.warn(message);
  return { resetData: options.resetData === true, clock: options.clock, onReset, onWarning };
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
