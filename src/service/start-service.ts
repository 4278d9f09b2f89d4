// Bootstrap for a service: listen first, then register (the course registered before its
// listener was up; a registry not up yet is waited for while the service serves), serve, and on
// a signal drain, deregister, release the app's resources (onShutdown) and exit cleanly.
import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { RegistryClient, defaultLogger, type Logger, type RegistryClientOptions } from '../client/index.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { capConnections, serverOptions } from '../shared/server-limits.js';
import { ignoreOutputErrorsAfterHangup } from '../shared/hangup.js';
import { clientOptionsObject } from '../client/options.js';
import { registeredOrWaiting } from '../client/registered-or-waiting.js';
import { advertisedUrl, resolveServiceConfig, type ServiceConfig, type StartServiceOptions } from './config.js';
import { addressInUse, portNotAllowed } from '../protocol/errors.js';

export interface RunningService {
  /** The advertised URL. */
  url: string;
  /** The port actually listened on. */
  port: number;
  client: RegistryClient;
  server: Server;
  /** Drain, deregister, stop listening, close the client, then run onShutdown; does not exit. Idempotent. */
  close(): Promise<void>;
  /** Puts this service's instance in maintenance, or ends it (client.maintenance()): e.g. before a deploy. */
  maintenance: RegistryClient['maintenance'];
}

export async function startService(options: StartServiceOptions): Promise<RunningService> {
  const config = resolveServiceConfig(options);
  const logger = options.logger ?? defaultLogger;
  let listener: RequestListener | null = null;
  // Nobody knows our address before we register; still, answer 503 until the client exists.
  const server = createListener(config, (req, res) => (listener ? listener(req, res) : res.writeHead(503).end()));
  const port = await listen(server, config);
  const client = await registerOrClose(server, logger, () => {
    const built = new RegistryClient(clientOptions(options, config, port));
    // Mounted before registering: the registry POSTs the first patch before it answers.
    listener = built.requestListener(options.handler);
    return built;
  });
  const stop = stopOnce(server, client, config, options.clock ?? systemClock, logger);
  const { close, forgetSignals } = shutdownHandlers(stop, options, config, logger);
  // Only now: whoever reads this line may signal us at once, and must find the handlers in place.
  logger.info(`${options.name} listening on ${client.options.url}`);
  // A failed wait stops the service but leaves onShutdown alone: startService rejects, so its caller cleans up.
  await waitForRequired(client, options.waitForRequired, async () => {
    forgetSignals();
    await stop();
  });
  return { url: client.options.url, port, client, server, close, maintenance: (on, maintenanceOptions) => client.maintenance(on, maintenanceOptions) };
}

/** close() stops the service, then runs the app's onShutdown, once; a handled signal does the same, then exits. */
function shutdownHandlers(stop: () => Promise<void>, options: StartServiceOptions, config: ServiceConfig, logger: Logger): { close: () => Promise<void>; forgetSignals: () => void } {
  const shutdown = once(async () => {
    try {
      await stop();
    } finally {
      // The app's resources are released even when closing the client failed.
      await runOnShutdown(options.onShutdown, logger);
    }
  });
  const forgetSignals = config.handleSignals ? exitOnSignals(shutdown, logger) : () => {};
  const close = (): Promise<void> => {
    forgetSignals();
    return shutdown();
  };
  return { close, forgetSignals };
}

/** node:http, or node:https with the certificate and key; both are Servers with the same close methods, and the same limits. */
function createListener(config: ServiceConfig, listener: RequestListener): Server {
  const limits = serverOptions(config.server);
  if (config.tls === null) return capConnections(createServer(limits, listener), config.server);
  return capConnections(createHttpsServer({ ...limits, cert: config.tls.cert, key: config.tls.key }, listener), config.server);
}

const CLIENT_OPTION_NAMES: ReadonlySet<string> = new Set(Object.keys(clientOptionsObject.shape));

function clientOptions(options: StartServiceOptions, config: ServiceConfig, port: number): RegistryClientOptions {
  // Only the client's own options; the certificate and key are the server's, the client only takes the CA to trust.
  const rest = Object.fromEntries(Object.entries(options).filter(([key]) => CLIENT_OPTION_NAMES.has(key) && key !== 'url' && key !== 'tls'));
  const client: RegistryClientOptions = { ...rest, service: options.name, url: config.url ?? advertisedUrl(config.host, port, config.tls !== null) };
  if (options.tls?.ca !== undefined) client.tls = { ca: options.tls.ca };
  return client;
}

function listen(server: Server, { host, port }: ServiceConfig): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => reject(listenError(error, host, port));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function listenError(error: NodeJS.ErrnoException, host: string, port: number): Error {
  const how = 'choose another with --port <n> or ROSTER_PORT=<n> (0 picks a free port)';
  if (error.code === 'EADDRINUSE') return addressInUse({ port, host }, how, error);
  if (error.code === 'EACCES') return portNotAllowed({ port, host }, how, error);
  return error;
}

/**
 * Builds the client and registers, or lets it wait for a registry that is not up yet while the
 * service serves; a refused registration closes the server so that nothing is left listening.
 */
async function registerOrClose(server: Server, logger: Logger, build: () => RegistryClient): Promise<RegistryClient> {
  let client: RegistryClient | undefined;
  try {
    client = build();
    await registeredOrWaiting(client, logger);
    return client;
  } catch (error) {
    await client?.close();
    await closeServer(server, 0, systemClock);
    throw error;
  }
}

async function waitForRequired(client: RegistryClient, wait: StartServiceOptions['waitForRequired'], stop: () => Promise<void>): Promise<void> {
  if (!wait) return;
  try {
    await client.waitFor(undefined, wait === true ? {} : wait);
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Drain, deregister, stop listening, close the client: once, however many callers ask. */
function stopOnce(server: Server, client: RegistryClient, config: ServiceConfig, clock: Clock, logger: Logger): () => Promise<void> {
  return once(async () => {
    // Heartbeat 503 first: the registry stops routing to us even if deregistering fails.
    client.setDraining(true);
    await client.deregister().catch((error: Error) => logger.warn(`could not deregister: ${error.message}`));
    await closeServer(server, config.shutdownTimeoutMs, clock);
    await client.close();
  });
}

/** The app's own cleanup: a failure is reported, never thrown, so the shutdown (and the exit) goes on. */
async function runOnShutdown(onShutdown: (() => Promise<void>) | undefined, logger: Logger): Promise<void> {
  try {
    await onShutdown?.();
  } catch (error) {
    logger.error(`onShutdown failed: ${(error as Error)?.stack ?? String(error)}`);
  }
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  return () => (running ??= fn());
}

/** Stops accepting, lets in-flight requests finish, and cuts what is left after `timeoutMs`. */
function closeServer(server: Server, timeoutMs: number, clock: Clock): Promise<void> {
  return new Promise((resolve) => {
    const timer = clock.setTimeout(() => server.closeAllConnections(), timeoutMs);
    server.close(() => {
      clock.clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** Installs the handlers; returns a function that removes them. */
function exitOnSignals(shutdown: () => Promise<void>, logger: Logger): () => void {
  // SIGHUP: the terminal the service ran in was closed; leave as cleanly as on Ctrl-C.
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const onSignal = (signal: NodeJS.Signals): void => {
    // Removed at once: a second Ctrl-C during a slow shutdown gets node's default and ends the process.
    forget();
    ignoreOutputErrorsAfterHangup(signal);
    logger.info(`${signal}: shutting down`);
    void shutdown().finally(() => process.exit(0));
  };
  const forget = (): void => {
    for (const signal of signals) process.off(signal, onSignal);
  };
  for (const signal of signals) process.on(signal, onSignal);
  return forget;
}
