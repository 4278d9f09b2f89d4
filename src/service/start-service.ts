// Bootstrap for a service: listen first, then register (the course registered before its
// listener was up), serve, and on a signal drain, deregister, release the app's resources
// (onShutdown) and exit cleanly.
import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { RegistryClient, defaultLogger, type Logger, type RegistryClientOptions } from '../client/index.js';
import { systemClock, type Clock } from '../shared/clock.js';
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
}

export async function startService(options: StartServiceOptions): Promise<RunningService> {
  const config = resolveServiceConfig(options);
  const logger = options.logger ?? defaultLogger;
  let listener: RequestListener | null = null;
  // Nobody knows our address before we register; still, answer 503 until the client exists.
  const server = createListener(config, (req, res) => (listener ? listener(req, res) : res.writeHead(503).end()));
  const port = await listen(server, config);
  const client = await registerOrClose(server, () => {
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
  return { url: client.options.url, port, client, server, close };
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

/** node:http, or node:https with the certificate and key; both are Servers with the same close methods. */
function createListener(config: ServiceConfig, listener: RequestListener): Server {
  if (config.tls === null) return createServer(listener);
  return createHttpsServer({ cert: config.tls.cert, key: config.tls.key }, listener);
}

function clientOptions(options: StartServiceOptions, config: ServiceConfig, port: number): RegistryClientOptions {
  const { name, host: _host, port: _port, handler: _handler, waitForRequired: _wait, shutdownTimeoutMs: _timeout, handleSignals: _signals, onShutdown: _onShutdown, tls, ...rest } = options;
  // The certificate and key are the server's; the client only takes the CA to trust.
  const client: RegistryClientOptions = { ...rest, service: name, url: config.url ?? advertisedUrl(config.host, port, config.tls !== null) };
  if (tls?.ca !== undefined) client.tls = { ca: tls.ca };
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

/** Builds the client and registers; on failure the server is closed so nothing is left listening. */
async function registerOrClose(server: Server, build: () => RegistryClient): Promise<RegistryClient> {
  let client: RegistryClient | undefined;
  try {
    client = build();
    await client.register();
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
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const onSignal = (signal: NodeJS.Signals): void => {
    // Removed at once: a second Ctrl-C during a slow shutdown gets node's default and ends the process.
    forget();
    logger.info(`${signal}: shutting down`);
    void shutdown().finally(() => process.exit(0));
  };
  const forget = (): void => {
    for (const signal of signals) process.off(signal, onSignal);
  };
  for (const signal of signals) process.on(signal, onSignal);
  return forget;
}
