// The grading service as a process: store + app, served and registered by the service bootstrap,
// its logs shipped to the LogService.
import { join } from 'node:path';
import type { LevelWithSilent, Logger } from 'pino';
import type { ClientProtocol } from '../../client/index.js';
import { chooseLogger, serveApp } from '../shared.js';
import { buildGradingApp } from './app.js';
import { SqliteGradeStore } from './grade-store.js';
import { DEMO_SERVICES } from '../names.js';
import type { LogFormat } from '../log/service-logger.js';
import type { ServerLimitsInput } from '../../shared/server-limits.js';

const SELF = DEMO_SERVICES.grading;

export interface RunGradingServiceOptions {
  /** Default: the course's (DEMO_SERVICES.grading.port); 0 picks a free port. */
  port?: number;
  /** Default ROSTER_HOST or localhost. */
  host?: string;
  /** Folder of grading.db. Default ./data. */
  dataDir?: string;
  /** When grading.db is found damaged at start: move it aside as grading.db.damaged-<time> and start afresh, instead of refusing. */
  resetData?: boolean;
  registryUrl?: string | string[];
  protocol?: ClientProtocol;
  /** The service's token: it registers with it and ships its logs with it. Default: ROSTER_TOKEN. */
  token?: string;
  /** On SIGINT, SIGTERM or SIGHUP: deregister, drain, close the database, exit 0. Default true. */
  handleSignals?: boolean;
  /** Header and request timeouts, keep-alive and the connection cap of its server (docs/operations.md). Default DEFAULT_SERVER_LIMITS. */
  server?: ServerLimitsInput;
  /** Log lines on stdout besides shipping them to the LogService. Default true. */
  stdout?: boolean;
  /** How the lines on stdout look: readable (the default) or JSON, as pino writes them. */
  logFormat?: LogFormat;
  /** Default info. */
  logLevel?: LevelWithSilent;
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
  const { logger, shipped } = chooseLogger(SELF.name, options);
  const onReset = (aside: string, problem: string): void => logger.warn({ aside }, `starting afresh (resetData): the damaged grade book was moved aside as ${aside}; it was refused because ${problem}`);
  const onWarning = (message: string): void => logger.warn(message);
  const store = new SqliteGradeStore({ file: join(options.dataDir ?? './data', 'grading.db'), resetData: options.resetData === true, onReset, onWarning });
  const app = buildGradingApp({ store, logger });
  const service = await serveApp(app, options, {
    name: SELF.name,
    requires: [...SELF.requires],
    port: options.port ?? SELF.port,
    logger,
    // After the service has drained: requests still in flight may write to the store. Logs last.
    onShutdown: async () => {
      await app.close();
      await store.close();
      await shipped?.close();
    },
  });
  // Entries logged while the client was being built waited in the buffer: attaching sends them.
  shipped?.attach(service.client);
  return { url: service.url, port: service.port, close: service.close };
}
