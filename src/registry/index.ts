// Public API of roster/registry: what it takes to build a Registry (its channel, prober, store,
// clock and logger) and to start one. Importing it loads no HTTP framework, no metrics library
// and no SQLite: startRegistry loads the server when it starts, a SqliteStore SQLite when it
// opens. The HTTP app itself is in roster/registry/server.
export { Registry, type RegistryInit } from './registry.js';
export type { RegistryApi, RegistryChange, RegistryEvents, RegistryRole, ProbeEvent, Caller } from './registry-api.js';
export type { InstanceRecord, Registration } from './catalog.js';
export { startRegistry, type RunningRegistry, type StartRegistryOptions } from './start-registry.js';
export type { RegistryOptions, RegistryOptionsInput } from './options.js';
export { HttpChannel, type HttpChannelOptions, type PatchSigner } from './notify/http-channel.js';
export type { NotificationChannel } from './notify/channel.js';
export type { NotifierEvent } from './notify/notifier.js';
export { createHttpProber, type HttpProber, type HttpProberOptions, type ProbeSigner, type Prober } from './health/prober.js';
export type { HealthEvent } from './health/health-checker.js';
export type { RegistryStore, StoreBatch, StoreSnapshot, OutboxEntry } from './store/store.js';
export { MemoryStore } from './store/memory-store.js';
export { SqliteStore, type SqliteStoreOptions } from './store/sqlite-store.js';
export { EtcdStore } from './store/etcd-store.js';
export { systemClock, type Clock, type TimerHandle } from '../shared/clock.js';
export { silentLogger, type Logger } from '../shared/logger.js';
export type { RegistryAuthOptions, RegistryTlsOptions } from './auth/registry-security.js';
export type { RegistryCourseOptions } from './http/course-options.js';
export type { RegistryWatchOptions } from './http/server.js';
export type { ChangeLogOptions } from './change-log.js';
export type { EtcdAuthOptions, EtcdTlsOptions } from './cluster/etcd-credentials.js';
export { Credentials, TokenSet, sha256Hex, parseTokensFile, type Access, type Authenticator, type Principal, type Scope, type TokenSpec } from './auth/index.js';
