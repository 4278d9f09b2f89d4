import { pino, type Logger } from 'pino';
import { formatLogLine } from './log-lines.js';

/**
 * The logger of a Roster process, level from ROSTER_LOG_LEVEL (info). JSON lines, as log
 * collectors want them; on a terminal, readable lines instead (ROSTER_LOG_FORMAT=json keeps JSON).
 */
export function createLogger(name: string, level = process.env.ROSTER_LOG_LEVEL ?? 'info'): Logger {
  const readable = logFormat() === 'readable';
  const destination = readable ? { write: (line: string) => void process.stdout.write(`${formatLogLine(line.trimEnd())}\n`) } : undefined;
  return destination ? pino({ name, level, base: { name } }, destination) : pino({ name, level, base: { name } });
}

/** The one rule for every Roster process: readable on a terminal, unless ROSTER_LOG_FORMAT=json; JSON lines elsewhere. */
export function logFormat(stdout: { isTTY?: boolean } = process.stdout, env: Record<string, string | undefined> = process.env): 'readable' | 'json' {
  return stdout.isTTY === true && env.ROSTER_LOG_FORMAT !== 'json' ? 'readable' : 'json';
}
