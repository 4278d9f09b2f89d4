// Registry options: one defaults object, checked once, then frozen. All durations in ms.
import { checkOption } from '../protocol/errors.js';
import { DEFAULT_HEALTH_OPTIONS, type HealthOptions } from './health/health-checker.js';
import { DEFAULT_NOTIFIER_OPTIONS, type NotifierOptions } from './notify/notifier.js';
import { isOutboundRule } from './outbound-policy.js';
import { resolveLimits, type RegistryLimits } from './limits.js';

/** Where the registry may send probes and patches besides an instance's own host. */
export interface OutboundOptions {
  /** CIDRs (`10.0.0.0/8`, `fd00::/8`), exact hosts, or `*.example.com` patterns. */
  allow: readonly string[];
}

export interface RegistryOptions {
  health: HealthOptions;
  notify: NotifierOptions;
  /** How long a registration waits for its initial patch to be delivered before answering. */
  initialDeliveryWaitMs: number;
  /** On shutdown, how long in-flight deliveries may take to finish. */
  shutdownGraceMs: number;
  outbound: OutboundOptions;
  /** Bounds on every resource a caller can make the registry hold (docs/operations.md). */
  limits: RegistryLimits;
}

export interface RegistryOptionsInput {
  health?: Partial<HealthOptions>;
  notify?: Partial<NotifierOptions>;
  initialDeliveryWaitMs?: number;
  shutdownGraceMs?: number;
  outbound?: Partial<OutboundOptions>;
  limits?: Partial<RegistryLimits>;
}

export function resolveRegistryOptions(input: RegistryOptionsInput = {}): RegistryOptions {
  const notify = { ...DEFAULT_NOTIFIER_OPTIONS, ...input.notify };
  const options: RegistryOptions = {
    health: Object.freeze({ ...DEFAULT_HEALTH_OPTIONS, ...input.health }),
    notify: Object.freeze(notify),
    initialDeliveryWaitMs: input.initialDeliveryWaitMs ?? notify.timeoutMs,
    shutdownGraceMs: input.shutdownGraceMs ?? 3000,
    outbound: resolveOutbound(input.outbound),
    limits: resolveLimits(input.limits),
  };
  checkOption(isDuration(options.initialDeliveryWaitMs), 'initialDeliveryWaitMs', 'a whole number of milliseconds ≥ 0');
  checkOption(isDuration(options.shutdownGraceMs), 'shutdownGraceMs', 'a whole number of milliseconds ≥ 0');
  return Object.freeze(options);
}

function resolveOutbound(input: Partial<OutboundOptions> = {}): OutboundOptions {
  const allow = input.allow ?? [];
  checkOption(Array.isArray(allow) && allow.every((entry) => typeof entry === 'string'), 'outbound.allow', 'a list of CIDRs, hosts or *.domain patterns');
  const bad = allow.find((entry) => !isOutboundRule(entry));
  checkOption(bad === undefined, 'outbound.allow', `a list of CIDRs (10.0.0.0/8, fd00::/8), hosts (api.example.com) or *.domain patterns (*.example.com); "${bad}" is none of these (command line: --allow-callback-hosts)`);
  return Object.freeze({ allow: Object.freeze([...allow]) });
}

function isDuration(value: unknown): boolean {
  return Number.isInteger(value) && (value as number) >= 0;
}
