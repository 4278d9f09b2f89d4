// The teacher portal as a process: the app over the grading and system gateways, served and
// registered by the service bootstrap, its own logs shipped to the LogService.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { RosterError } from '../../protocol/index.js';
import type { ClientProtocol, RegistryClient } from '../../client/index.js';
import { startService, type RunningService } from '../../service/index.js';
import { createServiceLogger, type ServiceLogger } from '../log/index.js';
import { buildPortalApp } from './app.js';
import { createGradingGateway } from './grading-gateway.js';
import { createSystemGateway } from './system-gateway.js';

export const PORTAL_SERVICE = 'Portal';
export const DEFAULT_PORTAL_PORT = 5000;

export interface RunPortalServiceOptions {
  /** Default 5000 (the course's); 0 picks a free port. */
  port?: number;
  /** Default ROSTER_HOST or localhost. */
  host?: string;
  registryUrl?: string | string[];
  protocol?: ClientProtocol;
  /** Per attempt at one grading instance. Default 5000. */
  gradingTimeoutMs?: number;
  /** On SIGINT/SIGTERM: deregister, drain, flush the logs, exit 0. Default true. */
  handleSignals?: boolean;
  /** Readable log lines on stdout besides shipping them to the LogService. Default true. */
  stdout?: boolean;
  /** Replaces the LogService logger (tests): nothing is shipped then. */
  logger?: Logger;
}

export interface RunningPortalService {
  url: string;
  port: number;
  client: RegistryClient;
  /** Deregisters, drains, closes the app and gateways, then flushes the logs. Idempotent. */
  close(): Promise<void>;
}

export async function runPortalService(options: RunPortalServiceOptions = {}): Promise<RunningPortalService> {
  const late = new LateClient();
  const { logger, shipped } = chooseLogger(options, late);
  const grading = createGradingGateway({ client: late, ...definedOnly({ timeoutMs: options.gradingTimeoutMs }) });
  const system = createSystemGateway({ client: late });
  const app = buildPortalApp({ grading, system, logger });
  // After the service has drained: requests still in flight use the gateways.
  const closeLocal = once(async () => {
    await app.close();
    await Promise.all([grading.close(), system.close()]);
    await shipped?.close();
  });
  const service = await startOrClose(options, app, logger, closeLocal);
  late.attach(service.client);
  // Entries logged before the client existed waited in the buffer: send them now.
  void shipped?.flush();
  let forgetSignals = (): void => {};
  const close = once(async () => {
    forgetSignals();
    await service.close();
    await closeLocal();
  });
  if (options.handleSignals ?? true) forgetSignals = exitOnSignals(close, logger);
  return { url: service.url, port: service.port, client: service.client, close };
}

async function startOrClose(
  options: RunPortalServiceOptions,
  app: ReturnType<typeof buildPortalApp>,
  logger: Logger,
  closeLocal: () => Promise<void>,
): Promise<RunningService> {
  try {
    await app.ready();
    return await startService({
      name: PORTAL_SERVICE,
      requires: ['LogService', 'GradingService'],
      port: options.port ?? DEFAULT_PORTAL_PORT,
      ...definedOnly({ host: options.host, registryUrl: options.registryUrl, protocol: options.protocol }),
      handler: (req, res) => app.routing(req, res),
      // Our own handlers: the bootstrap's would exit before the logs are flushed.
      handleSignals: false,
      logger,
    });
  } catch (error) {
    await closeLocal();
    throw error;
  }
}

function chooseLogger(options: RunPortalServiceOptions, client: LateClient): { logger: Logger; shipped: ServiceLogger | null } {
  if (options.logger) return { logger: options.logger, shipped: null };
  const shipped = createServiceLogger({ client, service: PORTAL_SERVICE, stdout: options.stdout ?? true });
  return { logger: shipped.logger, shipped };
}

/**
 * The logger and the gateways need the registry client, which exists only once startService has
 * registered, and startService needs the app built on them. This stands in for the client until
 * then: no providers yet (NO_PROVIDER), so the logger buffers and pages say "unavailable".
 */
class LateClient extends EventEmitter {
  #client: RegistryClient | null = null;

  get registryUrl(): string {
    return this.#attached().registryUrl;
  }

  provider(service: string): string {
    return this.#attached().provider(service);
  }

  providers(service: string): string[] {
    return this.#client?.providers(service) ?? [];
  }

  attach(client: RegistryClient): void {
    this.#client = client;
    client.on('change', (change) => this.emit('change', change));
  }

  #attached(): RegistryClient {
    if (this.#client) return this.#client;
    throw new RosterError('NO_PROVIDER', 'the portal has not registered yet: no provider is known');
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

/** Leaves unset options out, so the defaults (and the environment) apply. */
function definedOnly<T extends object>(value: T): Partial<{ [K in keyof T]: Exclude<T[K], undefined> }> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<{ [K in keyof T]: Exclude<T[K], undefined> }>;
}
