// What the demo services' entry points share: serving a fastify app as a registered service, and
// the logger that ships to the LogService. Only the public service bootstrap is used, as a
// user's service would.
import type { FastifyInstance } from 'fastify';
import type { LevelWithSilent, Logger } from 'pino';
import { startService, type RunningService, type StartServiceOptions } from '../service/index.js';
import { createServiceLogger, type LogFormat, type ServiceLogger } from './log/service-logger.js';

/** The run options every demo service hands on to startService as they are (unset: its defaults apply). */
export type PassedOnOptions = Pick<StartServiceOptions, 'host' | 'registryUrl' | 'protocol' | 'handleSignals' | 'token' | 'server'>;

export interface ServeAppOptions extends Omit<StartServiceOptions, 'handler' | 'onShutdown' | keyof PassedOnOptions> {
  /** Releases what the app holds (the app itself included). */
  onShutdown: () => Promise<void>;
}

/**
 * Readies the app and serves it as a registered service; the bootstrap handles the signals.
 * `onShutdown` runs once either way: at shutdown, after in-flight requests are done with the
 * app's resources, or here when start-up fails (startService leaves that to its caller).
 */
export async function serveApp(app: FastifyInstance, passed: PassedOnOptions, options: ServeAppOptions): Promise<RunningService> {
  const { host, registryUrl, protocol, handleSignals, token, server } = passed;
  try {
    await app.ready();
    return await startService({ host, registryUrl, protocol, handleSignals, token, server, ...options, handler: (req, res) => app.routing(req, res) });
  } catch (error) {
    await options.onShutdown();
    throw error;
  }
}

/** What a demo service's options say about its logs. */
export interface ShippedLoggerOptions {
  /** Replaces the shipping logger (tests): nothing is shipped then. */
  logger?: Logger;
  /** Lines on stdout besides shipping them. Default true. */
  stdout?: boolean;
  /** How those lines look. Default readable. */
  logFormat?: LogFormat;
  /** Default info. */
  logLevel?: LevelWithSilent;
  token?: string;
}

export interface ChosenLogger {
  logger: Logger;
  /** The LogService logger: attach the client once registered, close it last. Null for the caller's own logger. */
  shipped: ServiceLogger | null;
}

/**
 * The caller's logger (tests: nothing is shipped), or one shipping to the LogService, its client
 * attached later. It sends the service's own token: the log service stores entries under it.
 */
export function chooseLogger(service: string, options: ShippedLoggerOptions): ChosenLogger {
  if (options.logger) return { logger: options.logger, shipped: null };
  const { stdout = true, logFormat: stdoutFormat, logLevel: level, token } = options;
  const shipped = createServiceLogger({ service, stdout, ...defined({ stdoutFormat, level, token }) });
  return { logger: shipped.logger, shipped };
}

/** The entries whose value is set: unset options leave the callee's defaults alone. */
function defined<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as Partial<T>;
}
