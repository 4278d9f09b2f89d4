// The log service as a process: open the log file, serve the app, register as LogService.
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import type { ClientProtocol } from '../../client/index.js';
import type { RunningService } from '../../service/index.js';
import { serveApp } from '../shared.js';
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
  const service = await serveApp(app, options, {
    name: LOG_SERVICE_NAME,
    requires: [],
    // An explicit port wins; else ROSTER_PORT (read by startService); else the course's 4000.
    port: options.port ?? (process.env.ROSTER_PORT ? undefined : DEFAULT_LOG_PORT),
    logger,
    // After the service has drained: requests still in flight append to the file.
    onShutdown: async () => {
      await app.close();
      await store.close();
    },
  });
  logger.info({ url: service.url, file: store.path }, `LogService log file: ${store.path}`);
  return { ...service, file: store.path };
}
