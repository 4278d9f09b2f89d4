// `roster grading`: the grading service, its grades in SQLite.
import type { Command } from 'commander';
import { DEMO_SERVICES } from '../../services/names.js';
import { demoServiceCommand } from './demo-service.js';

const SELF = DEMO_SERVICES.grading;

export function gradingCommand(): Command {
  return demoServiceCommand({
    part: 'grading',
    description: `run the grading service (registers as ${SELF.name}, requires ${SELF.requires.join(' and ')}; data in SQLite)`,
    dataDirHolds: 'the database (grading.db)',
    // Signals are handled by the service itself: it closes the database before exiting.
    start: async (settings) => {
      const { runGradingService } = await import('../../services/grading/index.js');
      // The settings are exactly the service's options: the port, the registry, the token, the logs.
      return runGradingService(settings);
    },
  });
}
