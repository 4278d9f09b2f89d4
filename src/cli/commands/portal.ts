import { Command, Option } from 'commander';
import { createLogger } from '../logger.js';
import { parsePort } from '../options.js';

// Kept here rather than imported: the service's modules load only when this command runs.
const PORTAL_SERVICE = 'Portal';
const DEFAULT_PORTAL_PORT = 5000;

interface PortalFlags {
  port: number;
  host: string;
  registry?: string;
  protocol?: 'roster' | 'course';
}

export function portalCommand(): Command {
  return new Command('portal')
    .description(`run the teacher portal (registers as ${PORTAL_SERVICE}, requires LogService and GradingService)`)
    .option('--port <port>', 'port to listen on', parsePort, DEFAULT_PORTAL_PORT)
    .option('--host <host>', 'address to listen on', 'localhost')
    .option('--registry <url>', 'registry URL (default ROSTER_REGISTRY_URL or http://localhost:3000)')
    .addOption(new Option('--protocol <protocol>', 'registry protocol: roster, or course for the Go course registry').choices(['roster', 'course']))
    .action(runPortal);
}

/** Signals are handled by the service itself: it flushes its logs before exiting. */
async function runPortal(flags: PortalFlags): Promise<void> {
  const { runPortalService } = await import('../../services/portal/index.js');
  await runPortalService({
    port: flags.port,
    host: flags.host,
    ...(flags.registry ? { registryUrl: flags.registry } : {}),
    ...(flags.protocol ? { protocol: flags.protocol } : {}),
  }).catch((error: Error) => {
    createLogger(PORTAL_SERVICE).fatal(error.message);
    process.exit(1);
  });
}
