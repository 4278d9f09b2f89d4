import { pino, type Logger } from 'pino';

/** The logger of a Roster process: JSON lines on stdout, level from ROSTER_LOG_LEVEL (info). */
export function createLogger(name: string, level = process.env.ROSTER_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { name } });
}
