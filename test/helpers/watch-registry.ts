// A real registry on 127.0.0.1:0 with the /v1 API and the watch stream mounted, for the watch,
// watch-mode and CLI tests. Built here rather than through startRegistry() so that the tests do
// not depend on how the server wires the watch routes in.
import type { TestContext } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { ChangeLog, type ChangeLogOptions } from '../../src/registry/change-log.js';
import { createHttpProber } from '../../src/registry/health/prober.js';
import { toRosterError } from '../../src/shared/fastify-errors.js';
import { v1Routes } from '../../src/registry/http/v1-routes.js';
import { watchRoutes, type WatchRoutes, type WatchRoutesOptions } from '../../src/registry/http/watch-routes.js';
import { HttpChannel } from '../../src/registry/notify/http-channel.js';
import type { RegistryOptionsInput } from '../../src/registry/options.js';
import { Registry } from '../../src/registry/registry.js';
import { accessGuard } from '../../src/registry/http/access-guard.js';
import { SourceList } from '../../src/registry/auth/source-list.js';
import { TokenSet, sha256Hex } from '../../src/registry/auth/token-set.js';

export interface WatchRegistryOptions {
  registry?: RegistryOptionsInput;
  watch?: WatchRoutesOptions;
  changeLog?: ChangeLogOptions;
  /** Default 0: any free port. */
  port?: number;
  /** Guard the routes as the registry does, accepting this admin token; default: no guard. */
  adminToken?: string;
}

export interface WatchRegistry {
  url: string;
  registry: Registry;
  changeLog: ChangeLog;
  watch: WatchRoutes;
  app: FastifyInstance;
  /** Method and URL of every request received, in order. */
  requests: string[];
  /** The admin token the routes accept; null when they are not guarded. */
  adminToken: string | null;
}

export async function startWatchRegistry(t: TestContext, options: WatchRegistryOptions = {}): Promise<WatchRegistry> {
  const channel = new HttpChannel();
  const prober = createHttpProber();
  const registry = new Registry({ channel, probe: prober.probe, options: options.registry });
  const changeLog = new ChangeLog(registry, options.changeLog);
  const watch = watchRoutes(registry, changeLog, options.watch);
  const requests: string[] = [];
  const app = Fastify({ logger: false });
  app.addHook('onRequest', async (request) => void requests.push(`${request.method} ${request.url}`));
  app.setErrorHandler((error, _request, reply) => {
    const { error: rosterError } = toRosterError(error);
    return reply.code(rosterError.status).send(rosterError.toJSON());
  });
  if (options.adminToken) {
    const authenticator = new TokenSet([{ name: 'admin', sha256: sha256Hex(options.adminToken), scopes: ['admin'], services: null }]);
    app.register(accessGuard({ authenticator, course: { enabled: false, sources: new SourceList([], 'course.sources') } }));
  }
  app.register(v1Routes(registry, '0.0.0'), { prefix: '/v1' });
  app.register(watch.plugin, { prefix: '/v1' });
  t.after(async () => {
    await Promise.all([app.close(), registry.close()]);
    await changeLog.close();
    await Promise.all([channel.close(), prober.close()]);
  });
  await app.listen({ host: '127.0.0.1', port: options.port ?? 0 });
  const { port } = app.server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, registry, changeLog, watch, app, requests, adminToken: options.adminToken ?? null };
}
