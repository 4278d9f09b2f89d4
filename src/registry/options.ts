// Registry options: one defaults object, checked once, then frozen. All durations in ms.
import { checkOption } from '../protocol/errors.js';
import { DEFAULT_HEALTH_OPTIONS, type HealthOptions } from './health/health-checker.js';
import { DEFAULT_NOTIFIER_OPTIONS, type NotifierOptions } from './notify/notifier.js';

export interface RegistryOptions {
  health: HealthOptions;
  notify: NotifierOptions;
  /** How long a registration waits for its initial patch to be delivered before answering. */
  initialDeliveryWaitMs: number;
  /** On shutdown, how long in-flight deliveries may take to finish. */
  shutdownGraceMs: number;
}

export interface RegistryOptionsInput {
  health?: Partial<HealthOptions>;
  notify?: Partial<NotifierOptions>;
  initialDeliveryWaitMs?: number;
  shutdownGraceMs?: number;
}

export function resolveRegistryOptions(input: RegistryOptionsInput = {}): RegistryOptions {
  const notify = { ...DEFAULT_NOTIFIER_OPTIONS, ...input.notify };
  const options: RegistryOptions = {
    health: Object.freeze({ ...DEFAULT_HEALTH_OPTIONS, ...input.health }),
    notify: Object.freeze(notify),
    initialDeliveryWaitMs: input.initialDeliveryWaitMs ?? notify.timeoutMs,
    shutdownGraceMs: input.shutdownGraceMs ?? 3000,
  };
  checkOption(isDuration(options.initialDeliveryWaitMs), 'initialDeliveryWaitMs', 'a whole number of milliseconds ≥ 0');
  checkOption(isDuration(options.shutdownGraceMs), 'shutdownGraceMs', 'a whole number of milliseconds ≥ 0');
  return Object.freeze(options);
}

function isDuration(value: unknown): boolean {
  return Number.isInteger(value) && (value as number) >= 0;
}
