// A real registry on 127.0.0.1:0, built by buildRegistryServer as users' registries are, for the
// watch, watch-mode and CLI tests. Authentication is off unless an admin token is given.
import type { TestContext } from 'node:test';
import type { ChangeLogOptions } from '../../src/registry/change-log.js';
import { createHttpProber } from '../../src/registry/health/prober.js';
import { buildRegistryServer, type RegistryServer, type RegistryWatchOptions } from '../../src/registry/http/server.js';
import { HttpChannel } from '../../src/registry/notify/http-channel.js';
import type { RegistryOptionsInput } from '../../src/registry/options.js';
import { Registry } from '../../src/registry/registry.js';
import type { Clock } from '../../src/shared/clock.js';

export interface WatchRegistryOptions {
  registry?: RegistryOptionsInput;
  watch?: RegistryWatchOptions;
  changeLog?: ChangeLogOptions;
  /** The server's clock (keep-alives); the registry's probes and TTLs keep the system's. */
  clock?: Clock;
  /** Default 0: any free port. */
  port?: number;
  /** Guard the routes as the registry does, accepting this admin token; default: no authentication. */
  adminToken?: string;
}

export interface WatchRegistry {
  url: string;
  registry: Registry;
  /** The watch streams currently open. */
  watch: { readonly openStreams: number };
  app: RegistryServer;
  /** Method and URL of every request received, in order. */
  requests: string[];
  /** The admin token the routes accept; null when authentication is off. */
  adminToken: string | null;
}

export async function startWatchRegistry(t: TestContext, options: WatchRegistryOptions = {}): Promise<WatchRegistry> {
  // Patches and probes signed with each instance's key, as startRegistry wires them.
  const channel = new HttpChannel({ sign: (target, body): string | null => registry.signatureFor(target, body) });
  const prober = createHttpProber({ sign: (url): string | null => registry.probeSignatureFor(url) });
  const registry = new Registry({ channel, probe: prober.probe, options: options.registry });
  const auth = options.adminToken ? { adminToken: options.adminToken } : { insecure: true };
  const app = buildRegistryServer(registry, { auth, watch: options.watch, changeLog: options.changeLog, clock: options.clock });
  const requests: string[] = [];
  app.addHook('onRequest', async (request) => void requests.push(`${request.method} ${request.url}`));
  t.after(async () => {
    await Promise.all([app.close(), registry.close()]);
    await Promise.all([channel.close(), prober.close()]);
  });
  await app.listen({ host: '127.0.0.1', port: options.port ?? 0 });
  const { port } = app.server.address() as { port: number };
  const watch = {
    get openStreams() {
      return app.openWatchStreams;
    },
  };
  return { url: `http://127.0.0.1:${port}`, registry, watch, app, requests, adminToken: options.adminToken ?? null };
}
