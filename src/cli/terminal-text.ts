// What the CLI prints from a registry is data from whoever registered: an instance URL or a
// metadata value may hold escape sequences that retitle the terminal, clear it or move the
// cursor. Everything printed from the registry goes through here first.

/** C0 and C1 controls, DEL, the line and paragraph separators, and the bidirectional overrides. */
const UNSAFE = /[\p{Cc}\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

/** JSON.stringify escapes the C0 controls inside strings; outside them, a line feed is layout. */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

function escape(character: string): string {
  return `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** The text with every control character shown as its `\u001b` escape: printed, it does nothing to the terminal. */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, escape);
}

/** Every string and key in `value`, however deep, made terminal-safe. */
export function terminalSafeDeep<T>(value: T): T {
  if (typeof value === 'string') return terminalSafe(value) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => terminalSafeDeep(item)) as T;
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [terminalSafe(key), terminalSafeDeep(inner)])) as T;
}

/**
 * JSON text with what JSON.stringify leaves raw (DEL, C1 controls, U+2028/2029, bidi overrides)
 * escaped as `\uXXXX`: the same JSON to a parser, inert on a terminal.
 */
export function terminalSafeJson(json: string): string {
  return json.replace(UNSAFE_IN_JSON, escape);
}
