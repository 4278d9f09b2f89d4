// Where a service listens and what URL it advertises: options first, then the environment.
import { checkOption, httpUrl } from '../protocol/index.js';
import type { RequestListener } from 'node:http';
import type { RegistryClientOptions } from '../client/index.js';

export interface StartServiceOptions extends Omit<RegistryClientOptions, 'service' | 'url'> {
  /** The service name it registers under. */
  name: string;
  /** Interface to listen on. Default: ROSTER_HOST or "localhost". */
  host?: string;
  /** Port to listen on. Default: ROSTER_PORT or 0 (any free port). */
  port?: number;
  /** Advertised URL. Default: ROSTER_URL or http://<host>:<actual port>. */
  url?: string;
  /** The app: a node request listener (a plain function, an express app, fastify's serverFactory handler). */
  handler?: RequestListener;
  /** Wait for a provider of every required service before resolving. */
  waitForRequired?: boolean | { timeoutMs?: number };
  /** How long in-flight requests may run on shutdown before their connections are cut. */
  shutdownTimeoutMs?: number;
  /** Shut down (deregister, drain, onShutdown) and exit(0) on SIGINT and SIGTERM. Default true. */
  handleSignals?: boolean;
  /**
   * Releases what the app holds (a database, a file, a logger to flush). Runs once per shutdown,
   * by close() or a signal: after in-flight requests have finished, which may still need those
   * resources, and the client is closed; before process.exit(0) on a signal. An error it throws is
   * logged and the shutdown goes on: it never keeps the process from exiting. Not run when
   * startService itself rejects: nothing was started, so the caller still owns its resources.
   */
  onShutdown?: () => Promise<void>;
}

export interface ServiceConfig {
  host: string;
  port: number;
  /** Advertised URL when fixed in advance; otherwise it depends on the port we get. */
  url: string | undefined;
  shutdownTimeoutMs: number;
  handleSignals: boolean;
}

export function resolveServiceConfig(options: StartServiceOptions): ServiceConfig {
  checkOption(typeof options?.name === 'string', 'name', 'a service name');
  const host = options.host ?? process.env.ROSTER_HOST ?? 'localhost';
  checkOption(typeof host === 'string' && host.length > 0, 'host', 'a host name or IP address');
  const url = options.url ?? (process.env.ROSTER_URL || undefined);
  checkOption(url === undefined || httpUrl.safeParse(url).success, options.url === undefined ? 'ROSTER_URL' : 'url', 'an absolute http(s) URL');
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 5_000;
  checkOption(Number.isInteger(shutdownTimeoutMs) && shutdownTimeoutMs >= 0, 'shutdownTimeoutMs', 'a non-negative integer (milliseconds)');
  checkOption(options.handler === undefined || typeof options.handler === 'function', 'handler', 'a request listener function');
  checkOption(options.onShutdown === undefined || typeof options.onShutdown === 'function', 'onShutdown', 'an async function');
  return { host, port: resolvePort(options.port), url, shutdownTimeoutMs, handleSignals: options.handleSignals ?? true };
}

function resolvePort(value: number | undefined): number {
  const fromEnv = process.env.ROSTER_PORT;
  const port = value ?? (fromEnv ? Number(fromEnv) : 0);
  const name = value === undefined && fromEnv ? 'ROSTER_PORT' : 'port';
  checkOption(Number.isInteger(port) && port >= 0 && port <= 65535, name, 'an integer from 0 to 65535 (0 picks a free port)');
  return port;
}

/** The URL others reach us at: a wildcard address is not one, so it becomes localhost. */
export function advertisedUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}
