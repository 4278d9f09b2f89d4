// One way to take options: a zod schema per options type, with its defaults, in the module that
// owns it. `resolveOptions` validates once, refuses what it does not know, freezes the result,
// and turns the first problem into INVALID_OPTION naming the option as the caller wrote it
// (`notify.timeoutMs`). The builders below carry the wording of each rule, so that every
// message reads "option "x" must be <what it takes>".
import { z } from 'zod';
import { invalidOption, unknownOption } from '../protocol/errors.js';

/** Node's timers fire at once beyond this, so a longer duration would be silently wrong. */
export const MAX_TIMER_MS = 2_147_483_647;

export interface ResolveOptionsContext {
  /** Who takes the options, for "is not an option of <owner>": "the registry", "RegistryClient". */
  owner: string;
  /** Where these options sit in what the caller wrote ("limits"), prefixed to every name. */
  path?: string;
}

/** The options `input` stands for, defaults filled in, frozen; throws INVALID_OPTION on the first problem. */
export function resolveOptions<S extends z.ZodType>(schema: S, input: unknown, context: ResolveOptionsContext): Readonly<z.output<S>> {
  const parsed = schema.safeParse(input ?? {});
  if (!parsed.success) throw optionError(schema, parsed.error.issues[0] as z.core.$ZodIssue, context);
  return freezeParsed(parsed.data, input) as Readonly<z.output<S>>;
}

function optionError(schema: z.ZodType, issue: z.core.$ZodIssue, { owner, path }: ResolveOptionsContext): Error {
  const at = issue.path.map(String);
  // Written as the caller would: `notify.timeoutMs`, `requires[1]`.
  const name = (keys: readonly string[]): string => [...(path ? [path] : []), ...keys].join('.').replace(/\.(\d+)(?=\.|$)/g, '[$1]') || 'options';
  if (issue.code === 'unrecognized_keys') {
    const known = Object.keys(shapeAt(schema, at) ?? {});
    return unknownOption(name([...at, issue.keys[0] as string]), owner, known);
  }
  return invalidOption(name(at), issue.message);
}

/** The fields of the object schema found by following `keys` through wrappers (default, optional, pipe…). */
function shapeAt(schema: z.core.$ZodType, keys: readonly string[]): Record<string, z.core.$ZodType> | undefined {
  const def = schema._zod.def as unknown as Record<string, unknown> & { type: string };
  if (def.type === 'object') {
    const shape = def.shape as Record<string, z.core.$ZodType>;
    if (keys.length === 0) return shape;
    const next = shape[keys[0] as string];
    return next && shapeAt(next, keys.slice(1));
  }
  if (def.type === 'union') {
    for (const option of def.options as z.core.$ZodType[]) {
      const shape = shapeAt(option, keys);
      if (shape) return shape;
    }
    return undefined;
  }
  const inner = (def.innerType ?? def.in) as z.core.$ZodType | undefined;
  return inner && shapeAt(inner, keys);
}

/**
 * Freezes the settings the schema built: the result, and the objects and arrays in it, but
 * never a collaborator (a logger, a clock, a stream: an object with methods) nor anything the
 * caller handed in and gets back as it was: those are not ours to freeze.
 */
function freezeParsed(output: unknown, input: unknown): unknown {
  if (typeof output !== 'object' || output === null) return output;
  for (const [key, value] of Object.entries(output)) {
    const given = (input as Record<string, unknown> | undefined)?.[key];
    if (value !== given && isSettings(value)) freezeParsed(value, given);
  }
  return Object.freeze(output);
}

function isSettings(value: unknown): value is object {
  if (Array.isArray(value)) return true;
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) return false;
  return Object.values(value).every((field) => typeof field !== 'function');
}

// ---- builders: each says, once, what its values must be ----

/** A whole number of milliseconds from `min` up to what a timer can wait. */
export function durationMs(min: number): z.ZodNumber {
  return z.number({ error: `a whole number of milliseconds ≥ ${min}` }).int().min(min).max(MAX_TIMER_MS);
}

/** A whole number ≥ `min`, `what` it counts said in the message ("bytes"). */
export function wholeNumber(min: number, max?: number, what?: string): z.ZodNumber {
  const range = max === undefined ? `≥ ${min}` : `from ${min} to ${max}`;
  const base = z.number({ error: `a whole number ${range}${what ? ` (${what})` : ''}` }).int().min(min);
  return max === undefined ? base : base.max(max);
}

/** One of a few strings: `"a" or "b"`, `one of "a", "b", "c"`. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T): z.ZodEnum<{ [K in T[number]]: K }> {
  const quoted = values.map((value) => `"${value}"`);
  const expected = quoted.length === 2 ? quoted.join(' or ') : `one of ${quoted.join(', ')}`;
  return z.enum(values, { error: expected });
}

/** A non-empty string; `expected` says what it names ("a folder path"). */
export function text(expected: string): z.ZodString {
  return z.string({ error: expected }).min(1);
}

export function flag(): z.ZodBoolean {
  return z.boolean({ error: 'true or false' });
}

/** A function, e.g. a request listener; kept as given. */
export function func<T>(expected: string): z.ZodType<T, T> {
  return z.custom<T>((value) => typeof value === 'function', { error: expected });
}

/** An object with these methods (a clock, a logger, a stream); kept as given, never copied. */
export function withMethods<T>(methods: readonly string[], expected: string): z.ZodType<T, T> {
  return z.custom<T>((value) => typeof value === 'object' && value !== null && methods.every((name) => typeof (value as Record<string, unknown>)[name] === 'function'), {
    error: expected,
  });
}
