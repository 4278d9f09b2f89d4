import { Command, Option } from 'commander';
import { createLogger } from '../logger.js';
import { parsePort } from '../options.js';

// Kept here rather than imported: the service's modules load only when this command runs.
const GRADING_SERVICE = 'GradingService';
const DEFAULT_GRADING_PORT = 6000;

interface GradingFlags {
  port: number;
  host: string;
  dataDir: string;
  registry?: string;
  protocol?: 'roster' | 'course';
}

export function gradingCommand(): Command {
  return new Command('grading')
    .description(`run the grading service (registers as ${GRADING_SERVICE}, requires LogService; data in SQLite)`)
    .option('--port <port>', 'port to listen on', parsePort, DEFAULT_GRADING_PORT)
    .option('--host <host>', 'address to listen on', 'localhost')
    .option('--data-dir <dir>', 'folder of the database (grading.db)', './data')
    .option('--registry <url>', 'registry URL (default ROSTER_REGISTRY_URL or http://localhost:3000)')
    .addOption(new Option('--protocol <protocol>', 'registry protocol: roster, or course for the Go course registry').choices(['roster', 'course']))
    .action(runGrading);
}

/** Signals are handled by the service itself: it closes the database before exiting. */
async function runGrading(flags: GradingFlags): Promise<void> {
  const { runGradingService } = await import('../../services/grading/index.js');
  await runGradingService({
    port: flags.port,
    host: flags.host,
    dataDir: flags.dataDir,
    ...(flags.registry ? { registryUrl: flags.registry } : {}),
    ...(flags.protocol ? { protocol: flags.protocol } : {}),
  }).catch((error: Error) => {
    createLogger(GRADING_SERVICE).fatal(error.message);
    process.exit(1);
  });
}
