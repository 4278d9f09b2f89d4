// Where a service listens and what URL it advertises: options first, then the environment.
import { readFileSync } from 'node:fs';
import { checkOption, httpUrl } from '../protocol/index.js';
import type { RequestListener } from 'node:http';
import type { ClientTlsOptions, RegistryClientOptions } from '../client/index.js';
import { unreadableFile } from '../protocol/errors.js';

export interface ServiceTlsOptions extends ClientTlsOptions {
  /** Path of the PEM certificate (chain) to serve HTTPS with. Default: ROSTER_TLS_CERT. */
  cert?: string;
  /** Path of its PEM private key. Default: ROSTER_TLS_KEY. */
  key?: string;
}

export interface StartServiceOptions extends Omit<RegistryClientOptions, 'service' | 'url' | 'tls'> {
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
  /**
   * `cert` and `key` (paths, or ROSTER_TLS_CERT and ROSTER_TLS_KEY) make the service serve HTTPS
   * and advertise https://; `ca` is the client's: a CA bundle to trust for the registry.
   */
  tls?: ServiceTlsOptions;
}

/** The certificate and key read from their files: the service serves HTTPS with them. */
export interface ServerTls {
  cert: string;
  key: string;
}

export interface ServiceConfig {
  host: string;
  port: number;
  /** Advertised URL when fixed in advance; otherwise it depends on the port we get. */
  url: string | undefined;
  shutdownTimeoutMs: number;
  handleSignals: boolean;
  /** Null: plain HTTP. */
  tls: ServerTls | null;
}

export function resolveServiceConfig(options: StartServiceOptions): ServiceConfig {
  checkOption(typeof options?.name === 'string', 'name', 'a service name');
  const host = options.host ?? process.env.ROSTER_HOST ?? 'localhost';
  checkOption(typeof host === 'string' && host.length > 0, 'host', 'a host name or IP address');
  const url = options.url ?? (process.env.ROSTER_URL || undefined);
  checkOption(url === undefined || httpUrl.safeParse(url).success, options.url === undefined ? 'ROSTER_URL' : 'url', 'an absolute http(s) URL');
  const tls = resolveServerTls(options.tls);
  checkOption(tls === null || url === undefined || url.startsWith('https:'), options.url === undefined ? 'ROSTER_URL' : 'url', 'an https:// URL when the service serves HTTPS (tls.cert and tls.key)');
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 5_000;
  checkOption(Number.isInteger(shutdownTimeoutMs) && shutdownTimeoutMs >= 0, 'shutdownTimeoutMs', 'a non-negative integer (milliseconds)');
  checkOption(options.handler === undefined || typeof options.handler === 'function', 'handler', 'a request listener function');
  checkOption(options.onShutdown === undefined || typeof options.onShutdown === 'function', 'onShutdown', 'an async function');
  return { host, port: resolvePort(options.port), url, shutdownTimeoutMs, handleSignals: options.handleSignals ?? true, tls };
}

/** Both paths (options first, then the environment) or neither; the files are read here, so a bad one stops start-up. */
function resolveServerTls(value: ServiceTlsOptions | undefined): ServerTls | null {
  checkOption(value === undefined || (typeof value === 'object' && value !== null), 'tls', 'an object: { cert?, key?, ca? } (paths of PEM files)');
  const cert = pemPath(value?.cert, 'tls.cert', 'ROSTER_TLS_CERT');
  const key = pemPath(value?.key, 'tls.key', 'ROSTER_TLS_KEY');
  if (cert === null && key === null) return null;
  checkOption(cert !== null, 'tls.cert', 'given with tls.key (or ROSTER_TLS_CERT with ROSTER_TLS_KEY): the certificate to serve HTTPS with');
  checkOption(key !== null, 'tls.key', 'given with tls.cert (or ROSTER_TLS_KEY with ROSTER_TLS_CERT): the private key of the certificate');
  return { cert: readPem(cert as Pem, 'CERTIFICATE'), key: readPem(key as Pem, 'PRIVATE KEY') };
}

interface Pem {
  path: string;
  option: string;
}

function pemPath(value: string | undefined, option: string, env: string): Pem | null {
  checkOption(value === undefined || (typeof value === 'string' && value.length > 0), option, 'the path of a PEM file');
  if (value !== undefined) return { path: value, option };
  const fromEnv = process.env[env]?.trim();
  return fromEnv ? { path: fromEnv, option: env } : null;
}

function readPem({ path, option }: Pem, label: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw unreadableFile(option, path, error);
  }
  checkOption(text.includes(label), option, `the path of a PEM file holding a ${label.toLowerCase()} (${path} holds none)`);
  return text;
}

function resolvePort(value: number | undefined): number {
  const fromEnv = process.env.ROSTER_PORT;
  const port = value ?? (fromEnv ? Number(fromEnv) : 0);
  const name = value === undefined && fromEnv ? 'ROSTER_PORT' : 'port';
  checkOption(Number.isInteger(port) && port >= 0 && port <= 65535, name, 'an integer from 0 to 65535 (0 picks a free port)');
  return port;
}

/** The URL others reach us at: a wildcard address is not one, so it becomes localhost. */
export function advertisedUrl(host: string, port: number, secure = false): string {
  const reachable = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return `${secure ? 'https' : 'http'}://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}
