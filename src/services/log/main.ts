// The log service as a process: open the log file, serve the app, register as LogService.
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import type { ClientProtocol } from '../../client/index.js';
import { startService, type RunningService } from '../../service/index.js';
import { buildLogApp } from './app.js';
import { openLogStore, type LogStoreOptions } from './log-store.js';

export const LOG_SERVICE_NAME = 'LogService';
export const DEFAULT_LOG_PORT = 4000;

export interface LogServiceOptions {
  /** Default 4000 (the course's), or ROSTER_PORT when set. */
  port?: number;
  /** Default ROSTER_HOST or "localhost". */
  host?: string;
  /** The log file goes to <dataDir>/log/roster.log. Default "./data". */
  dataDir?: string;
  registryUrl?: string | string[];
  protocol?: ClientProtocol;
  /** Rotation and memory settings of the log file. */
  store?: Omit<LogStoreOptions, 'dir'>;
  /** On SIGINT/SIGTERM: deregister, drain, close the file, exit 0. Default true. */
  handleSignals?: boolean;
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
  const app = buildLogApp({ store, logger });
  const closeApp = async (): Promise<void> => {
    await app.close();
    await store.close();
  };
  let service: RunningService;
  try {
    await app.ready();
    service = await startService({
      name: LOG_SERVICE_NAME,
      requires: [],
      // An explicit port wins; else ROSTER_PORT (read by startService); else the course's 4000.
      port: options.port ?? (process.env.ROSTER_PORT ? undefined : DEFAULT_LOG_PORT),
      ...withoutUndefined({ host: options.host, registryUrl: options.registryUrl, protocol: options.protocol }),
      handler: (req, res) => app.routing(req, res),
      // Our own handlers, so that the file is closed before the process exits.
      handleSignals: false,
      logger,
    });
  } catch (error) {
    await closeApp();
    throw error;
  }
  const close = once(async () => {
    await service.close();
    await closeApp();
  });
  if (options.handleSignals ?? true) exitOnSignals(close, logger);
  logger.info({ url: service.url, file: store.path }, `LogService log file: ${store.path}`);
  return { ...service, file: store.path, close };
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  return () => (running ??= fn());
}

function exitOnSignals(close: () => Promise<void>, logger: Logger): void {
  const onSignal = (signal: NodeJS.Signals): void => {
    // Removed at once: a second Ctrl-C during a slow shutdown gets node's default and ends the process.
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
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
}

function withoutUndefined<T extends object>(value: T): Partial<{ [K in keyof T]: Exclude<T[K], undefined> }> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<{ [K in keyof T]: Exclude<T[K], undefined> }>;
}
