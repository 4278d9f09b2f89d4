// startService's options: where a service listens and what URL it advertises (options first,
// then the environment), and the client's options it passes on.
import { readFileSync } from 'node:fs';
import type { RequestListener } from 'node:http';
import { z } from 'zod';
import { checkOption } from '../protocol/index.js';
import { httpUrl } from '../protocol/validation.js';
import { clientOptionsObject } from '../client/options.js';
import { unreadableFile } from '../protocol/errors.js';
import { serverLimitsSchema, type ServerLimits } from '../shared/server-limits.js';
import { durationMs, flag, func, resolveOptions, text, wholeNumber } from '../shared/options.js';

const pemFile = (what: string): z.ZodOptional<z.ZodString> => text(`the path of a PEM file (${what})`).optional();

/** startService's options: the client's (but its own name, URL and TLS), and the server's, with their defaults. */
const startServiceObject = clientOptionsObject.omit({ service: true, url: true, tls: true }).extend({
  /** The service name it registers under. */
  name: clientOptionsObject.shape.service,
  /** Interface to listen on. Default: ROSTER_HOST or "localhost". */
  host: text('a host name or IP address').optional(),
  /** Port to listen on. Default: ROSTER_PORT or 0 (any free port). */
  port: wholeNumber(0, 65535, '0 picks a free port').optional(),
  /** Advertised URL. Default: ROSTER_URL or http://<host>:<actual port>. */
  url: clientOptionsObject.shape.url.optional(),
  /** The app: a node request listener (a plain function, an express app, fastify's serverFactory handler). */
  handler: func<RequestListener>('a request listener function').optional(),
  /** Wait for a provider of every required service before resolving. */
  waitForRequired: z.union([flag(), z.strictObject({ timeoutMs: durationMs(1).optional() })], { error: 'true, false or { timeoutMs }' }).optional(),
  /** How long in-flight requests may run on shutdown before their connections are cut. */
  shutdownTimeoutMs: durationMs(0).default(5_000),
  /** Shut down (deregister, drain, onShutdown) and exit(0) on SIGINT, SIGTERM and SIGHUP. Default true. */
  handleSignals: flag().default(true),
  /**
   * Releases what the app holds (a database, a file, a logger to flush). Runs once per shutdown,
   * by close() or a signal: after in-flight requests have finished, which may still need those
   * resources, and the client is closed; before process.exit(0) on a signal. An error it throws is
   * logged and the shutdown goes on: it never keeps the process from exiting. Not run when
   * startService itself rejects: nothing was started, so the caller still owns its resources.
   */
  onShutdown: func<() => Promise<void>>('an async function').optional(),
  /**
   * `cert` and `key` (paths, or ROSTER_TLS_CERT and ROSTER_TLS_KEY) make the service serve HTTPS
   * and advertise https://; `ca` is the client's: a CA bundle to trust for the registry.
   */
  tls: z
    .strictObject(
      {
        /** Path of the PEM certificate (chain) to serve HTTPS with. Default: ROSTER_TLS_CERT. */
        cert: pemFile('the certificate'),
        /** Path of its PEM private key. Default: ROSTER_TLS_KEY. */
        key: pemFile('the private key'),
        ca: pemFile('a CA bundle'),
      },
      { error: 'an object: { cert?, key?, ca? } (paths of PEM files)' },
    )
    .optional(),
  /** Header and request timeouts, keep-alive and the connection cap of the server (docs/operations.md); defaults DEFAULT_SERVER_LIMITS. */
  server: serverLimitsSchema,
});

export type StartServiceOptions = z.input<typeof startServiceObject>;
export type ServiceTlsOptions = NonNullable<StartServiceOptions['tls']>;

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
  server: ServerLimits;
}

export function resolveServiceConfig(options: StartServiceOptions): ServiceConfig {
  checkOption(typeof options === 'object' && options !== null, 'options', 'an object');
  return resolveOptions(startServiceObject.transform(settle), options, { owner: 'startService' });
}

/** The environment's values where options are missing, and the files read. */
function settle(options: z.output<typeof startServiceObject>): ServiceConfig {
  const host = options.host ?? process.env.ROSTER_HOST ?? 'localhost';
  checkOption(host.length > 0, 'ROSTER_HOST', 'a host name or IP address');
  const urlOption = options.url === undefined ? 'ROSTER_URL' : 'url';
  const url = options.url ?? (process.env.ROSTER_URL || undefined);
  checkOption(url === undefined || httpUrl.safeParse(url).success, urlOption, 'an absolute http(s) URL');
  const tls = resolveServerTls(options.tls);
  checkOption(tls === null || url === undefined || url.startsWith('https:'), urlOption, 'an https:// URL when the service serves HTTPS (tls.cert and tls.key)');
  return { host, port: resolvePort(options.port), url, shutdownTimeoutMs: options.shutdownTimeoutMs, handleSignals: options.handleSignals, tls, server: options.server };
}

/** Both paths (options first, then the environment) or neither; the files are read here, so a bad one stops start-up. */
function resolveServerTls(value: ServiceTlsOptions | undefined): ServerTls | null {
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
  if (value !== undefined) return value;
  const fromEnv = process.env.ROSTER_PORT;
  const port = fromEnv ? Number(fromEnv) : 0;
  checkOption(Number.isInteger(port) && port >= 0 && port <= 65535, 'ROSTER_PORT', 'an integer from 0 to 65535 (0 picks a free port)');
  return port;
}

/** The URL others reach us at: a wildcard address is not one, so it becomes localhost. */
export function advertisedUrl(host: string, port: number, secure = false): string {
  const reachable = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return `${secure ? 'https' : 'http'}://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}
