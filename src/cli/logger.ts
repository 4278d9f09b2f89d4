import { pino, type Logger } from 'pino';
import { formatLogLine } from './log-lines.js';

/**
 * The logger of a Roster process, level from ROSTER_LOG_LEVEL (info). JSON lines, as log
 * collectors want them; on a terminal, readable lines instead (ROSTER_LOG_FORMAT=json keeps JSON).
 */
export function createLogger(name: string, level = process.env.ROSTER_LOG_LEVEL ?? 'info'): Logger {
  const readable = process.stdout.isTTY === true && process.env.ROSTER_LOG_FORMAT !== 'json';
  const destination = readable ? { write: (line: string) => void process.stdout.write(`${formatLogLine(line.trimEnd())}\n`) } : undefined;
  return destination ? pino({ name, level, base: { name } }, destination) : pino({ name, level, base: { name } });
}
