import { Command, Option } from 'commander';
import { DEFAULT_PORTAL_PORT, PORTAL_SERVICE, runPortalService } from '../../services/portal/index.js';
import { createLogger } from '../logger.js';
import { parsePort } from '../options.js';

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
