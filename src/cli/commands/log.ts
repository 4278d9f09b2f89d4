import { Command, Option } from 'commander';
import type { ClientProtocol } from '../../client/index.js';
import { createLogger } from '../logger.js';
import { parsePort } from '../options.js';

interface LogFlags {
  host?: string;
  port?: number;
  dataDir: string;
  registry?: string;
  protocol: ClientProtocol;
  courseApi: boolean;
  courseSources?: string;
}

export function logCommand(): Command {
  return new Command('log')
    .description('run the log service (course API POST /log, Roster API /v1/logs); registers as LogService')
    // No commander defaults for host and port: ROSTER_HOST and ROSTER_PORT apply when the flag is absent.
    .option('--host <host>', 'address to listen on (default ROSTER_HOST or localhost)')
    .option('--port <port>', 'port to listen on (default ROSTER_PORT or 4000)', parsePort)
    .option('--data-dir <dir>', 'folder of the log file: <dir>/log/roster.log', './data')
    .option('--registry <url>', 'registry URL, or several comma-separated (default ROSTER_REGISTRY_URL or http://localhost:3000)')
    .addOption(new Option('--protocol <protocol>', 'registry protocol').choices(['roster', 'course']).default('roster'))
    .option('--course-sources <cidrs>', 'addresses allowed to use the course API POST /log, comma-separated CIDRs (default loopback: 127.0.0.0/8,::1/128)')
    .option('--no-course-api', 'switch off the course API POST /log (it carries no credential)')
    .action(runLog);
}

async function runLog(flags: LogFlags): Promise<void> {
  const logger = createLogger('log');
  // Loaded only when this command runs: each roster process carries only its own part.
  const { runLogService } = await import('../../services/log/index.js');
  await runLogService({
    host: flags.host,
    port: flags.port,
    dataDir: flags.dataDir,
    registryUrl: flags.registry?.split(',').map((url) => url.trim()),
    protocol: flags.protocol,
    course: {
      enabled: flags.courseApi,
      ...(flags.courseSources ? { sources: flags.courseSources.split(',').map((cidr) => cidr.trim()) } : {}),
    },
    logger,
  }).catch((error: Error) => {
    logger.fatal(error.message);
    process.exit(1);
  });
}
