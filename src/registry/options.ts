// Registry options: one schema with its defaults, checked once, then frozen. All durations in ms.
import { z } from 'zod';
import { durationMs, resolveOptions } from '../shared/options.js';
import { healthOptionsSchema } from './health/health-checker.js';
import { notifierOptionsSchema } from './notify/notifier.js';
import { isOutboundRule } from './outbound-policy.js';
import { limitsSchema } from './limits.js';
import { sessionOptionsShape } from './health/sessions.js';
import { selfPreservationOptionsSchema } from './health/self-preservation.js';

/**
 * startRegistry's defaults for where it listens and keeps its state; `roster registry` and
 * `roster up` show them in their help.
 */
export const DEFAULT_START_OPTIONS = Object.freeze({
  host: 'localhost',
  port: 3000,
  /** Folder of registry.db and admin.token. */
  dataDir: './data',
  /** Cluster mode: the etcd cluster's client URLs. */
  etcdEndpoints: Object.freeze(['http://127.0.0.1:2379']),
  /** Cluster mode: where Roster's keys live in etcd. */
  etcdPrefix: '/roster/',
});

const outboundRules = 'a list of CIDRs (10.0.0.0/8, fd00::/8), hosts (api.example.com) or *.domain patterns (*.example.com)';

/** Where the registry may send probes and patches besides an instance's own host. */
const outboundSchema = z.strictObject({
  /** CIDRs (`10.0.0.0/8`, `fd00::/8`), exact hosts, or `*.example.com` patterns. */
  allow: z
    .array(z.string(), { error: outboundRules })
    .refine((rules) => rules.every(isOutboundRule), {
      error: (issue) => `${outboundRules}; "${(issue.input as string[]).find((rule) => !isOutboundRule(rule))}" is none of these (command line: --allow-callback-hosts)`,
    })
    .default([]),
});

/** The registry's options as a caller writes them, with their defaults; startRegistry takes them too. */
export const registryOptionsObject = z.strictObject({
  health: healthOptionsSchema.prefault({}),
  notify: notifierOptionsSchema.prefault({}),
  /** How long a registration waits for its initial patch to be delivered before answering. Default: notify.timeoutMs. */
  initialDeliveryWaitMs: durationMs(0).optional(),
  /** On shutdown, how long in-flight deliveries may take to finish. */
  shutdownGraceMs: durationMs(0).default(3000),
  outbound: outboundSchema.prefault({}),
  /** Bounds on every resource a caller can make the registry hold (docs/operations.md). */
  limits: limitsSchema.prefault({}),
  /** When many instances turn critical at once, hold their removal (health/self-preservation.ts, docs/operations.md). */
  selfPreservation: selfPreservationOptionsSchema.prefault({}),
  /** Session liveness: sessionPingMs, sessionStallMs, sessionGraceMs, sessionRestoreGraceMs (health/sessions.ts). */
  ...sessionOptionsShape,
});

const registryOptionsSchema = registryOptionsObject.transform(({ initialDeliveryWaitMs, ...options }) => ({
  ...options,
  initialDeliveryWaitMs: initialDeliveryWaitMs ?? options.notify.timeoutMs,
}));

export type OutboundOptions = z.output<typeof outboundSchema>;
export type RegistryOptions = Readonly<z.output<typeof registryOptionsSchema>>;
export type RegistryOptionsInput = z.input<typeof registryOptionsSchema>;

/** The names RegistryOptions knows, for callers that take them among options of their own. */
export const REGISTRY_OPTION_NAMES = Object.keys(registryOptionsObject.shape) as ReadonlyArray<keyof RegistryOptionsInput>;

export function resolveRegistryOptions(input: RegistryOptionsInput = {}): RegistryOptions {
  return resolveOptions(registryOptionsSchema, input, { owner: 'the registry' });
}

/** The registry's own options among `options` (e.g. startRegistry's, which also holds host, port…). */
export function pickRegistryOptions(options: object): RegistryOptionsInput {
  return Object.fromEntries(Object.entries(options).filter(([name]) => (REGISTRY_OPTION_NAMES as readonly string[]).includes(name)));
}
