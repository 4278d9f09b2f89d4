// A recording logger (see fake-registry.ts) that a test can also wait on: `untilLogged` resolves
// once a line is logged, so that a test waits for what the code says it did, not for time.
import { recordingLogger } from './fake-registry.js';

export type WatchedLogger = ReturnType<typeof recordingLogger> & {
  /** Resolves once `line` has been logged at `level` (now or later). */
  untilLogged(level: 'debug' | 'info' | 'warn' | 'error', line: string | RegExp): Promise<string>;
};

export function watchedLogger(): WatchedLogger {
  const logger = recordingLogger();
  const waiters: Array<() => void> = [];
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    const record = logger[level];
    logger[level] = (message: string) => {
      record(message);
      for (const wake of waiters.splice(0)) wake();
    };
  }
  const untilLogged = async (level: string, line: string | RegExp): Promise<string> => {
    const matches = (message: string): boolean => (typeof line === 'string' ? message === line : line.test(message));
    for (;;) {
      const found = logger.messages(level).find(matches);
      if (found !== undefined) return found;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  return Object.assign(logger, { untilLogged });
}
