// `roster log`: the log service, with the course's POST /log and Roster's /v1/logs.
import { Option, type Command } from 'commander';
import { DEMO_SERVICES } from '../../services/names.js';
import { demoServiceCommand, type DemoServiceFlags } from './demo-service.js';

interface LogFlags extends DemoServiceFlags {
  courseApi: boolean;
  courseSources?: string;
}

export function logCommand(): Command {
  return demoServiceCommand<LogFlags>({
    part: 'log',
    description: `run the log service (course API POST /log, Roster API /v1/logs); registers as ${DEMO_SERVICES.log.name}`,
    dataDirHolds: 'the log file (<dir>/log/roster.log)',
    options: [
      new Option('--course-sources <cidrs>', 'addresses allowed to use the course API POST /log, comma-separated CIDRs (default loopback: 127.0.0.0/8,::1/128)'),
      new Option('--no-course-api', 'switch off the course API POST /log (it carries no credential)'),
    ],
    start: async (settings, flags, logger) => {
      // Loaded only when this command runs: each roster process carries only its own part.
      const { runLogService } = await import('../../services/log/index.js');
      return runLogService({
        host: settings.host,
        port: settings.port,
        dataDir: settings.dataDir,
        registryUrl: settings.registryUrl,
        protocol: settings.protocol,
        token: settings.token,
        course: {
          enabled: flags.courseApi,
          ...(flags.courseSources ? { sources: flags.courseSources.split(',').map((cidr) => cidr.trim()) } : {}),
        },
        // The log service's own lines stay on this process: it is where logs go.
        logger,
      });
    },
  });
}
