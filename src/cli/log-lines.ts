// Makes a pino JSON line readable on a terminal: "02:10:45 INFO  message key=value". The message
// and the values may quote what was registered (a URL): their control characters are shown as
// escapes, as JSON had them, never sent to the terminal.
import { terminalSafe } from './terminal-text.js';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'v']);

export function formatLogLine(line: string): string {
  if (!line.startsWith('{')) return line;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof entry.level !== 'number' || typeof entry.time !== 'number') return line;
  const time = new Date(entry.time).toISOString().slice(11, 19);
  const level = (LEVELS[entry.level] ?? String(entry.level)).padEnd(5);
  const extras = Object.entries(entry)
    .filter(([key]) => !HIDDEN.has(key))
    .map(([key, value]) => `${terminalSafe(key)}=${terminalSafe(typeof value === 'string' ? value : JSON.stringify(value))}`);
  return [time, level, terminalSafe(String(entry.msg ?? '')), ...extras].join(' ').trimEnd();
}
