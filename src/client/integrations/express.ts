// An express (or connect) middleware that mounts a Roster client into an existing app. It is
// typed with node's own request and response, so importing it loads no framework and needs no
// framework types.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as TlsServer } from 'node:tls';
import type { RegistryClient } from '../registry-client.js';
import { MountedClient, messageOf, type MountOptions } from './mount.js';

export type RosterExpressOptions = MountOptions;

/** A connect-style middleware: express's `app.use()` takes it. */
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

export interface RosterExpress {
  /** `app.use(roster.middleware)` before any body parser: the signature covers the exact body. */
  readonly middleware: Middleware;
  /** The client; before the server listens only when `url` was given. */
  readonly client: RegistryClient;
  /**
   * `roster.attach(app.listen(port))`: registers once the server listens, and on its 'close'
   * deregisters (if stop() has not already). Returns the server.
   */
  attach<S extends Server>(server: S): S;
  /** Registers; `server` gives the address when no `url` was given. Resolves once registered or waiting for the registry. */
  start(server?: Server): Promise<void>;
  /** Heartbeat 503, deregister, close the client. Idempotent; call it before `server.close()`. */
  stop(): Promise<void>;
}

export function rosterExpress(options: RosterExpressOptions): RosterExpress {
  const mounted = new MountedClient(options);
  const logFailure = (what: string) => (error: unknown) => {
    const message = `${what}: ${messageOf(error)}`;
    try {
      mounted.client.options.logger.error(message);
    } catch {
      console.warn(`roster: ${message}`);
    }
  };
  const start = (server?: Server): Promise<void> => mounted.start(server?.address() ?? null, server instanceof TlsServer);
  return {
    middleware: (req, res, next) => {
      mounted.serve(req, res).then((handled) => handled || next(), next);
    },
    get client() {
      return mounted.client;
    },
    attach(server) {
      const begin = (): void => void start(server).catch(logFailure(`${options.service} could not register`));
      if (server.listening) begin();
      else server.once('listening', begin);
      server.once('close', () => void mounted.stop().catch(logFailure(`${options.service} could not deregister`)));
      return server;
    },
    start,
    stop: () => mounted.stop(),
  };
}
