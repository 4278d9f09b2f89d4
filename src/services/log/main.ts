// The log service as a process: open the log file, serve the app, register as LogService.
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import type { ClientProtocol } from '../../client/index.js';
import type { RunningService } from '../../service/index.js';
import { serveApp } from '../shared.js';
import { registryUnreachable } from '../../protocol/errors.js';
import { buildLogApp, type CourseLogOptions } from './app.js';
import { openLogStore, type LogStoreOptions } from './log-store.js';
import { createWhoamiIdentity } from './writer-identity.js';
import { DEMO_SERVICES } from '../names.js';
import type { ServerLimitsInput } from '../../shared/server-limits.js';

const SELF = DEMO_SERVICES.log;

export interface LogServiceOptions {
  /** Default ROSTER_PORT when set, else the course's (DEMO_SERVICES.log.port). */
  port?: number;
  /** Default ROSTER_HOST or "localhost". */
  host?: string;
  /** The log file goes to <dataDir>/log/roster.log. Default "./data". */
  dataDir?: string;
  registryUrl?: string | string[];
  protocol?: ClientProtocol;
  /** This service's own token for the registry. Default: ROSTER_TOKEN. */
  token?: string;
  /** The course's unauthenticated POST /log: on/off and the allowed source addresses (default loopback). */
  course?: CourseLogOptions;
  /** How long the registry's answer about a writer's token is kept. Default 30000 ms. */
  writerCacheMs?: number;
  /** Rotation and memory settings of the log file. */
  store?: Omit<LogStoreOptions, 'dir'>;
  /** On SIGINT, SIGTERM or SIGHUP: deregister, drain, close the file, exit 0. Default true. */
  handleSignals?: boolean;
  /** Header and request timeouts, keep-alive and the connection cap of its server (docs/operations.md). Default DEFAULT_SERVER_LIMITS. */
  server?: ServerLimitsInput;
  /** The process's own logger (not shipped anywhere: this is where logs go). */
  logger?: Logger;
}

export interface RunningLogService extends RunningService {
  /** The current log file. */
  file: string;
}

export async function runLogService(options: LogServiceOptions = {}): Promise<RunningLogService> {
  const logger = options.logger ?? pino({ name: 'log', base: { name: 'log' } });
  const store = await openLogStore({ ...options.store, dir: join(options.dataDir ?? './data', 'log') });
  // Writers' tokens are checked with the registry this service registers with, once it has registered.
  let service: RunningService | undefined;
  const identity = createWhoamiIdentity({
    registryUrls: () => service?.client.options.registryUrls ?? notRegistered(),
    ca: () => service?.client.options.tlsCa ?? null,
    ...(options.writerCacheMs !== undefined ? { ttlMs: options.writerCacheMs } : {}),
  });
  // The course's registry knows no tokens: then only the course's POST /log is offered.
  const app = await buildOrRelease(() => buildLogApp({ store, logger, identity: options.protocol === 'course' ? null : identity, course: options.course }), async () => {
    await Promise.all([store.close(), identity.close()]);
  });
  service = await serveApp(app, options, {
    name: SELF.name,
    requires: [...SELF.requires],
    // An explicit port wins; else ROSTER_PORT (read by startService); else the course's.
    port: options.port ?? (process.env.ROSTER_PORT ? undefined : SELF.port),
    logger,
    // After the service has drained: requests still in flight append to the file.
    onShutdown: async () => {
      await app.close();
      await Promise.all([store.close(), identity.close()]);
    },
  });
  logger.info({ url: service.url, file: store.path }, `${SELF.name} log file: ${store.path}`);
  return { ...service, file: store.path };
}

/** A bad option (say a course source that is no CIDR) must not leave the log file open. */
async function buildOrRelease<T>(build: () => T, release: () => Promise<void>): Promise<T> {
  try {
    return build();
  } catch (error) {
    await release();
    throw error;
  }
}

function notRegistered(): never {
  throw registryUnreachable('the log service has not registered yet, so it cannot check tokens; try again shortly');
}
