// A fastify plugin that mounts a Roster client into an existing app: its update and heartbeat
// routes, `app.roster` (the client), registration once the app listens and deregistration when
// it closes. fastify is only a type here: importing this module loads no framework.
import { Server as TlsServer } from 'node:tls';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RegistryClient } from '../registry-client.js';
import { MountedClient, type MountOptions } from './mount.js';

export type RosterFastifyOptions = MountOptions;

declare module 'fastify' {
  interface FastifyInstance {
    /** The Roster client (built when the app listens, unless `url` was given). */
    readonly roster: RegistryClient;
  }
}

/**
 * `await app.register(rosterFastify, { service, requires, token })`. Registers in `onListen`
 * (in `onReady` the app does not listen yet, and the registry sends its first patch before it
 * answers the registration); drains and deregisters in `preClose`, while the app still serves.
 */
export async function rosterFastify(app: FastifyInstance, options: RosterFastifyOptions): Promise<void> {
  const mounted = new MountedClient(options);
  app.decorate('roster', { getter: () => mounted.client });
  for (const path of mounted.paths) declareRoute(app, path, mounted);
  app.addHook('onListen', async () => {
    await mounted.start(app.server.address(), app.server instanceof TlsServer);
  });
  app.addHook('preClose', async () => mounted.stop());
}
// Like fastify-plugin: the decorator and hooks belong to the app that registers the plugin.
Object.assign(rosterFastify, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'roster' });

/**
 * Every method, so that the client answers 405 itself; the body is left unread (answered in
 * onRequest, before fastify parses it) because the signature covers its exact bytes.
 */
function declareRoute(app: FastifyInstance, path: string, mounted: MountedClient): void {
  app.route({
    method: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'],
    url: path,
    exposeHeadRoute: false,
    onRequest: async (request: FastifyRequest, reply: FastifyReply) => {
      reply.hijack();
      await mounted.serve(request.raw, reply.raw);
    },
    handler: async () => undefined,
  });
}
