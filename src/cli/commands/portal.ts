// `roster portal`: the teacher portal, over the grading and log services.
import type { Command } from 'commander';
import { DEMO_SERVICES } from '../../services/names.js';
import { demoServiceCommand } from './demo-service.js';

const SELF = DEMO_SERVICES.portal;

export function portalCommand(): Command {
  return demoServiceCommand({
    part: 'portal',
    description: `run the teacher portal (registers as ${SELF.name}, requires ${SELF.requires.join(' and ')})`,
    // Signals are handled by the service itself: it flushes its logs before exiting.
    start: async (settings) => {
      const { runPortalService } = await import('../../services/portal/index.js');
      // The portal keeps no data: its folder only held its token, already read into the settings.
      const { dataDir: _dataDir, ...options } = settings;
      return runPortalService(options);
    },
  });
}
