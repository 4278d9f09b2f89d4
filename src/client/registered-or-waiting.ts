// Starting a service whose registry may not be up yet: the one rule shared by startService and
// the framework integrations (mount.ts).
import type { Logger } from '../shared/logger.js';
import type { RegistryClient } from './registry-client.js';

/**
 * Resolves once registered, or as soon as the client waits for the registry (it goes on trying
 * by itself); rejects when the registration is refused first. A refusal that comes only once the
 * registry is up finds nobody awaiting: it is logged on `logger`, and the service serves on,
 * unregistered.
 */
export function registeredOrWaiting(client: RegistryClient, logger: Logger = client.options.logger): Promise<void> {
  return new Promise((resolve, reject) => {
    let waiting = false;
    const onWaiting = (): void => {
      waiting = true;
      resolve();
    };
    client.once('waiting', onWaiting);
    client.register().then(
      () => {
        client.off('waiting', onWaiting);
        resolve();
      },
      (error: unknown) => {
        client.off('waiting', onWaiting);
        if (!waiting) return reject(error);
        // Stopped by a shutdown while waiting: nothing to report.
        if ((error as { code?: unknown } | null)?.code === 'CLIENT_CLOSED') return;
        const message = error instanceof Error ? error.message : String(error);
        logger.error(`${client.options.service} could not register at ${client.options.url}: ${message}; it serves on, unregistered`);
      },
    );
  });
}
