// The grading service as a process: store + app, served and registered by the service bootstrap,
// its logs shipped to the LogService.
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { RosterError } from '../../protocol/index.js';
import type { ClientProtocol, RegistryClient } from '../../client/index.js';
import { startService, type RunningService } from '../../service/index.js';
import { createServiceLogger, type LogProviderSource, type ServiceLogger } from '../log/index.js';
import { buildGradingApp } from './app.js';
import { SqliteGradeStore } from './grade-store.js';

export const GRADING_SERVICE = 'GradingService';
export const DEFAULT_GRADING_PORT = 6000;

export interface RunGradingServiceOptions {
  /** Default 6000 (the course's); 0 picks a free port. */
  port?: number;
  /** Default ROSTER_HOST or localhost. */
  host?: string;
  /** Folder of grading.db. Default ./data. */
  dataDir?: string;
  registryUrl?: string | string[];
  protocol?: ClientProtocol;
  /** On SIGINT/SIGTERM: deregister, drain, close the database, exit 0. Default true. */
  handleSignals?: boolean;
  /** Readable log lines on stdout besides shipping them to the LogService. Default true. */
  stdout?: boolean;
  /** Replaces the LogService logger (tests): nothing is shipped then. */
  logger?: Logger;
}

export interface RunningGradingService {
  url: string;
  port: number;
  /** Deregisters, drains, closes the app and the database, then flushes the logs. Idempotent. */
  close(): Promise<void>;
}

export async function runGradingService(options: RunGradingServiceOptions = {}): Promise<RunningGradingService> {
  const providers = new DeferredProviderSource();
  const { logger, shipped } = chooseLogger(options, providers);
  const store = new SqliteGradeStore({ file: join(options.dataDir ?? './data', 'grading.db') });
  const app = buildGradingApp({ store, logger });
  // The store closes after the service has drained: requests still in flight may write to it.
  const closeLocal = once(async () => {
    await app.close();
    store.close();
    await shipped?.close();
  });
  let service: RunningService;
  try {
    await app.ready();
    service = await startService({
      name: GRADING_SERVICE,
      requires: ['LogService'],
      port: options.port ?? DEFAULT_GRADING_PORT,
      ...definedOnly({ host: options.host, registryUrl: options.registryUrl, protocol: options.protocol }),
      handler: (req, res) => app.routing(req, res),
      // Our own handlers: the bootstrap's would exit before the database is closed.
      handleSignals: false,
      logger,
    });
  } catch (error) {
    await closeLocal();
    throw error;
  }
  providers.attach(service.client);
  // Entries logged while the client was being built waited in the buffer: send them now.
  void shipped?.flush();
  let forgetSignals = (): void => {};
  const close = once(async () => {
    forgetSignals();
    await service.close();
    await closeLocal();
  });
  if (options.handleSignals ?? true) forgetSignals = exitOnSignals(close, logger);
  return { url: service.url, port: service.port, close };
}

function chooseLogger(options: RunGradingServiceOptions, providers: LogProviderSource): { logger: Logger; shipped: ServiceLogger | null } {
  if (options.logger) return { logger: options.logger, shipped: null };
  const shipped = createServiceLogger({ client: providers, service: GRADING_SERVICE, stdout: options.stdout ?? true });
  return { logger: shipped.logger, shipped };
}

/**
 * The service logger needs the registry client to find the LogService, but the client only
 * exists once startService has registered, and startService needs the app and its logger.
 * This stands in for the client until then: no provider yet, so the logger buffers.
 */
class DeferredProviderSource extends EventEmitter implements LogProviderSource {
  #client: RegistryClient | null = null;

  provider(service: string): string {
    if (!this.#client) throw new RosterError('NO_PROVIDER', `no instance of service "${service}" is known yet: not registered`);
    return this.#client.provider(service);
  }

  attach(client: RegistryClient): void {
    this.#client = client;
    client.on('change', (change) => this.emit('change', change));
  }
}

/** Installs the handlers; returns a function that removes them. */
function exitOnSignals(close: () => Promise<void>, logger: Logger): () => void {
  const forget = (): void => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    // Removed at once: a second Ctrl-C during a slow shutdown gets node's default and ends the process.
    forget();
    logger.info(`${signal}: shutting down`);
    close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return forget;
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  return () => (running ??= fn());
}

/** Leaves unset options out, so the bootstrap's own defaults (and the environment) apply. */
function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
