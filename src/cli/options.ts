// Parsers for command-line values that fail with a message naming the option.
import { InvalidArgumentError } from 'commander';
import { z } from 'zod';
import { durationMs, wholeNumber } from '../shared/options.js';
import { ignoreOutputErrorsAfterHangup } from '../shared/hangup.js';

/**
 * A parser for a numeric flag that checks it with the schema of the option it sets: the same
 * rule and the same words as the option itself ("must be a whole number of milliseconds ≥ 1").
 */
export function parseNumberAs(schema: z.ZodType<unknown, number | undefined>): (value: string) => number {
  return (value) => {
    const checked = schema.safeParse(value.trim() === '' ? Number.NaN : Number(value));
    if (!checked.success || typeof checked.data !== 'number') throw new InvalidArgumentError(`must be ${checked.error?.issues[0]?.message ?? 'a number'}`);
    return checked.data;
  };
}

export const parsePort = parseNumberAs(z.number({ error: 'a port number from 0 to 65535' }).int().min(0).max(65535));
export const parseMs = parseNumberAs(durationMs(0));
export const parseCount = parseNumberAs(wholeNumber(1));

/**
 * A registry URL as every command uses it: its root, without trailing slashes or a final `/v1`
 * (a URL copied from a /v1 answer, http://h:3000/v1, would otherwise call /v1/v1/…).
 */
export function registryRoot(url: string): string {
  return url.replace(/\/+$/, '').replace(/\/v1$/, '');
}

/**
 * commander's `outputError`: its usage errors ("error: unknown option '--x'") speak as the
 * command does everywhere else, `roster: …`.
 */
export function rosterUsageError(text: string, write: (text: string) => void): void {
  write(text.replace(/^error: /, 'roster: '));
}

/** Runs `stop` once on SIGINT, SIGTERM or SIGHUP (its terminal closed), then exits 0 (1 if stopping failed). */
export function onShutdownSignal(stop: () => Promise<void>, log: (message: string) => void): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    ignoreOutputErrorsAfterHangup(signal);
    log(`${signal} received: shutting down`);
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  process.on('SIGHUP', handler);
}
