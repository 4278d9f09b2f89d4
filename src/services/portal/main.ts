// The teacher portal as a process: the app over the grading and system gateways, served and
// registered by the service bootstrap, its own logs shipped to the LogService.
import type { LevelWithSilent, Logger } from 'pino';
import type { ClientProtocol, RegistryClient } from '../../client/index.js';
import type { RunningService } from '../../service/index.js';
import { chooseLogger, serveApp } from '../shared.js';
import { buildPortalApp } from './app.js';
import { createGradingGateway, type GradingProviders } from './grading-gateway.js';
import { createSystemGateway, type SystemSources } from './system-gateway.js';
import { DEMO_SERVICES } from '../names.js';
import type { LogFormat } from '../log/service-logger.js';
import { noProvider } from '../../protocol/errors.js';
import type { ServerLimitsInput } from '../../shared/server-limits.js';

const SELF = DEMO_SERVICES.portal;

export interface RunPortalServiceOptions {
  /** Default: the course's (DEMO_SERVICES.portal.port); 0 picks a free port. */
  port?: number;
  /** Default ROSTER_HOST or localhost. */
  host?: string;
  registryUrl?: string | string[];
  protocol?: ClientProtocol;
  /** The portal's token: it registers with it, reads the registry and the log service, and ships its logs. Default: ROSTER_TOKEN. */
  token?: string;
  /** Per attempt at one grading instance. Default 5000. */
  gradingTimeoutMs?: number;
  /** On SIGINT, SIGTERM or SIGHUP: deregister, drain, flush the logs, exit 0. Default true. */
  handleSignals?: boolean;
  /** Header and request timeouts, keep-alive and the connection cap of its server (docs/operations.md). Default DEFAULT_SERVER_LIMITS. */
  server?: ServerLimitsInput;
  /** Log lines on stdout besides shipping them to the LogService. Default true. */
  stdout?: boolean;
  /** How the lines on stdout look: readable (the default) or JSON, as pino writes them. */
  logFormat?: LogFormat;
  /** Default info. */
  logLevel?: LevelWithSilent;
  /** Replaces the LogService logger (tests): nothing is shipped then. */
  logger?: Logger;
}

export interface RunningPortalService {
  url: string;
  port: number;
  client: RegistryClient;
  /** Deregisters, drains, closes the app and gateways, then flushes the logs. Idempotent. */
  close(): Promise<void>;
}

export async function runPortalService(options: RunPortalServiceOptions = {}): Promise<RunningPortalService> {
  const { logger, shipped } = chooseLogger(SELF.name, options);
  let service: RunningService | undefined;
  const client = registeredClient(() => service?.client);
  const grading = createGradingGateway({ client, timeoutMs: options.gradingTimeoutMs });
  const system = createSystemGateway({ client });
  const app = buildPortalApp({ grading, system, logger });
  service = await serveApp(app, options, {
    name: SELF.name,
    requires: [...SELF.requires],
    port: options.port ?? SELF.port,
    logger,
    // After the service has drained: requests still in flight use the gateways. Logs last.
    onShutdown: async () => {
      await app.close();
      await Promise.all([grading.close(), system.close()]);
      await shipped?.close();
    },
  });
  // Entries logged while the client was being built waited in the buffer: attaching sends them.
  shipped?.attach(service.client);
  return { url: service.url, port: service.port, client: service.client, close: service.close };
}

/**
 * The gateways look up providers per request, but the client exists only once startService has
 * registered, and startService needs the app built on the gateways. Until then there are no
 * providers (NO_PROVIDER), so a page asked for that early says "unavailable".
 */
function registeredClient(current: () => RegistryClient | undefined): GradingProviders & SystemSources {
  const registered = (): RegistryClient => current() ?? notRegistered();
  return {
    get registryUrl() {
      return registered().registryUrl;
    },
    get token() {
      return current()?.options.token ?? null;
    },
    provider: (service) => registered().provider(service),
    providers: (service) => current()?.providers(service) ?? [],
  };
}

function notRegistered(): never {
  throw noProvider('the portal has not registered yet: no provider is known');
}
