// `roster grading`: the grading service, its grades in SQLite.
import { Option, type Command } from 'commander';
import { DEMO_SERVICES } from '../../services/names.js';
import { demoServiceCommand, type DemoServiceFlags } from './demo-service.js';

const SELF = DEMO_SERVICES.grading;

interface GradingFlags extends DemoServiceFlags {
  resetData?: boolean;
}

export function gradingCommand(): Command {
  return demoServiceCommand<GradingFlags>({
    part: 'grading',
    description: `run the grading service (registers as ${SELF.name}, requires ${SELF.requires.join(' and ')}; data in SQLite)`,
    dataDirHolds: 'the database (grading.db)',
    options: [new Option('--reset-data', 'when grading.db is found damaged at start, move it aside as grading.db.damaged-<time> and start afresh instead of refusing')],
    // Signals are handled by the service itself: it closes the database before exiting.
    start: async (settings, flags) => {
      const { runGradingService } = await import('../../services/grading/index.js');
      // The settings are exactly the service's options: the port, the registry, the token, the logs.
      return runGradingService({ ...settings, resetData: flags.resetData === true });
    },
  });
}
