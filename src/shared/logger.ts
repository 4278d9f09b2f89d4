// One logger type for every part of Roster: pino, console or a test double fit it. A message
// alone, or fields first and then a message, as pino takes them.
import type { EventEmitter } from 'node:events';

export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

/** Says nothing: the default of a library part that was handed no logger. */
export const silentLogger: Logger = Object.freeze({ debug() {}, info() {}, warn() {}, error() {} });

/**
 * What a listener throws is a bug of whoever added it: it is reported through `logger`, never
 * swallowed, and never reaches the code that emitted the event (a registration, a probe).
 */
export function reportListenerError(logger: Logger, event: string, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  logger.error({ err: error, event }, `a '${event}' listener threw: ${message}`);
}

/** Calls `listener`; what it throws is reported (see reportListenerError). */
export function callListener(logger: Logger, event: string, listener: () => void): void {
  try {
    listener();
  } catch (error) {
    reportListenerError(logger, event, error);
  }
}

/**
 * Emits `event` to each listener in turn; one that throws is reported and the others still
 * hear the event. Once-listeners are removed as `emit` removes them.
 */
export function emitReporting(emitter: EventEmitter, logger: Logger, event: string, ...args: unknown[]): void {
  for (const listener of emitter.rawListeners(event) as Array<(...values: unknown[]) => void>) {
    callListener(logger, event, () => listener.apply(emitter, args));
  }
}
