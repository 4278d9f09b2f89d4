// What the fastify plugin and the express middleware share: a client that answers its two
// paths inside someone else's app, is built once the app's address is known, registers when
// the app listens and deregisters before it stops.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { clientNotListening, internal } from '../../protocol/errors.js';
import { pathOf, sendError } from '../handlers.js';
import { resolveClientOptions, type RegistryClientOptions } from '../options.js';
import { RegistryClient } from '../registry-client.js';
import { registeredOrWaiting } from '../registered-or-waiting.js';

/** The client's options; `url` may be left out: it is then the address the app listens on. */
export type MountOptions = Omit<RegistryClientOptions, 'url'> & { url?: string };

/** Stands in for the host while no `url` is known: only the paths of the resolved options are read. */
const PLACEHOLDER_URL = 'http://localhost';

export class MountedClient {
  /** Path of the update URL and of the heartbeat URL (null when the client takes none). */
  readonly updatePath: string | null;
  readonly heartbeatPath: string | null;
  readonly #options: MountOptions;
  #client: RegistryClient | null = null;
  #stopping: Promise<void> | null = null;

  constructor(options: MountOptions) {
    // Checked now, whether or not the client can be built yet: a bad option fails at start-up.
    const resolved = resolveClientOptions({ ...options, url: options.url ?? PLACEHOLDER_URL });
    this.updatePath = resolved.updateUrl === null ? null : pathOf(resolved.updateUrl);
    this.heartbeatPath = resolved.heartbeatUrl === null ? null : pathOf(resolved.heartbeatUrl);
    this.#options = options;
    if (options.url !== undefined) this.#client = new RegistryClient({ ...options, url: options.url });
  }

  /** The client; throws CLIENT_CLOSED before the app listens when no `url` was given. */
  get client(): RegistryClient {
    if (this.#client === null) throw clientNotListening('the Roster client');
    return this.#client;
  }

  /** The paths this client answers, for a framework that wants its routes declared. */
  get paths(): string[] {
    return [this.updatePath, this.heartbeatPath].filter((path): path is string => path !== null);
  }

  /** Answers the update and heartbeat paths (503 before the client exists); false for any other. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (this.#client !== null) return this.#client.handleRequest(req, res);
    const path = pathOf(req.url);
    if (path === null || !this.paths.includes(path)) return false;
    // Nobody knows our address before we register; still, the registry will ask again.
    res.writeHead(503, { 'retry-after': '1' }).end();
    return true;
  }

  /** handle(), and an error becomes a 500 (or a cut connection once the answer began), logged. */
  async serve(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    try {
      return await this.handle(req, res);
    } catch (error) {
      this.#client?.options.logger.warn(`failed to answer ${req.method} ${req.url}: ${messageOf(error)}`);
      if (res.headersSent) res.destroy();
      else sendError(res, internal('this service failed to handle the request; see its log'));
      return true;
    }
  }

  /**
   * Builds the client from the listening address (when no `url` was given) and registers.
   * Resolves once registered, or as soon as the client waits for a registry that is not up yet:
   * it then registers by itself. A refusal after that is logged.
   */
  start(address: AddressInfo | string | null, secure = false): Promise<void> {
    this.#client ??= new RegistryClient({ ...this.#options, url: urlOf(address, secure) });
    return registeredOrWaiting(this.#client);
  }

  /** Heartbeat 503 (draining), deregister, close the client. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    const client = this.#client;
    if (client === null) return;
    client.setDraining();
    // The app stops either way: a registry that cannot be told drops us after its failed probes.
    await client.deregister().catch((error: unknown) => client.options.logger.warn(`${client.options.service} could not deregister: ${messageOf(error)}`));
    await client.close();
  }
}

/** The URL a listening address is reached at: a wildcard host is reached as localhost. */
export function urlOf(address: AddressInfo | string | null, secure = false): string {
  if (address === null || typeof address === 'string') throw clientNotListening('the Roster client (the app listens on a pipe, not a port: give `url`)');
  const host = address.address === '0.0.0.0' || address.address === '::' ? 'localhost' : address.address;
  return `${secure ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
