// The registry's options and those of its parts: one schema each, defaults filled in, frozen; a
// misspelled option is refused naming it by its full path, and a bad value names the option.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Etcd3 } from 'etcd3';
import { ClusterRegistry } from '../../src/registry/cluster/cluster-registry.js';
import { DEFAULT_HEALTH_OPTIONS, HealthChecker } from '../../src/registry/health/health-checker.js';
import { resolveLimits } from '../../src/registry/limits.js';
import { DEFAULT_NOTIFIER_OPTIONS, Notifier } from '../../src/registry/notify/notifier.js';
import { resolveRegistryOptions, type RegistryOptionsInput } from '../../src/registry/options.js';
import { startRegistry, type StartRegistryOptions } from '../../src/registry/start-registry.js';
import { silentLogger } from '../../src/shared/logger.js';

test('registry options: defaults from each part, frozen all the way down; initialDeliveryWaitMs follows notify.timeoutMs', () => {
  const options = resolveRegistryOptions({ notify: { timeoutMs: 700 } });
  assert.deepEqual({ ...options.health }, { ...DEFAULT_HEALTH_OPTIONS });
  assert.equal(options.notify.retryMaxMs, DEFAULT_NOTIFIER_OPTIONS.retryMaxMs);
  assert.equal(options.initialDeliveryWaitMs, 700);
  assert.equal(options.shutdownGraceMs, 3000);
  for (const part of [options, options.health, options.notify, options.outbound, options.outbound.allow, options.limits]) assert.ok(Object.isFrozen(part));
});

test('registry options: a misspelled option is refused, named by its full path, with the names known there', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ notify: { timeoutMS: 100 } }, /^option "notify\.timeoutMS" is not an option of the registry; known: timeoutMs, retryBaseMs, retryMaxMs, maxQueue$/],
    [{ health: { interval: 100 } }, /^option "health\.interval" is not an option of the registry; known: intervalMs, /],
    [{ limits: { maxInstance: 5 } }, /^option "limits\.maxInstance" is not an option of the registry; known: maxInstances, /],
    [{ shutdownGraceMS: 5 }, /^option "shutdownGraceMS" is not an option of the registry; known: health, notify, /],
    [{ outbound: { allowed: [] } }, /^option "outbound\.allowed" is not an option of the registry; known: allow$/],
  ];
  for (const [input, message] of cases) assert.throws(() => resolveRegistryOptions(input as RegistryOptionsInput), { code: 'INVALID_OPTION', message }, String(message));
});

test('registry options: a bad value names the option by its full path and says what it must be', () => {
  const cases: Array<[unknown, string]> = [
    [{ health: { intervalMs: 0 } }, 'option "health.intervalMs" must be a whole number of milliseconds ≥ 1'],
    [{ health: { jitter: 1 } }, 'option "health.jitter" must be a number from 0 up to (not including) 1'],
    [{ notify: { retryBaseMs: 500, retryMaxMs: 100 } }, 'option "notify.retryMaxMs" must be at least retryBaseMs'],
    [{ limits: { maxInstances: 0 } }, 'option "limits.maxInstances" must be a whole number ≥ 1'],
    [{ initialDeliveryWaitMs: -1 }, 'option "initialDeliveryWaitMs" must be a whole number of milliseconds ≥ 0'],
  ];
  for (const [input, message] of cases) assert.throws(() => resolveRegistryOptions(input as RegistryOptionsInput), { code: 'INVALID_OPTION', message }, message);
});

test('limits alone, the health checker and the notifier refuse what they do not know the same way', () => {
  assert.throws(() => resolveLimits({ maxBodyByte: 1 } as never), { code: 'INVALID_OPTION', message: /^option "limits\.maxBodyByte" is not an option of the registry; known: / });
  assert.throws(() => new HealthChecker({ probe: async () => {}, onEvent: () => {}, options: { grace: 5 } as never }), {
    code: 'INVALID_OPTION',
    message: /^option "grace" is not an option of the health checker; known: intervalMs, /,
  });
  assert.throws(() => new Notifier({ channel: { send: async () => {}, close: async () => {} } as never, options: { timeoutMS: 5 } as never }), {
    code: 'INVALID_OPTION',
    message: /^option "timeoutMS" is not an option of the notifier; known: timeoutMs, /,
  });
  assert.throws(() => new Notifier({ channel: { send: async () => {}, close: async () => {} } as never, options: { maxQueue: 1.5 } }), {
    code: 'INVALID_OPTION',
    message: 'option "maxQueue" must be a whole number ≥ 1',
  });
});

/** Enough of an etcd client for the constructor: it asks for the election and nothing else. */
function fakeEtcd(): { client: Etcd3; ttls: number[] } {
  const ttls: number[] = [];
  const client = { election: (_name: string, ttl: number) => (ttls.push(ttl), {}) } as unknown as Etcd3;
  return { client, ttls };
}

function clusterNode(extra: Record<string, unknown>): ClusterRegistry {
  return new ClusterRegistry({ client: fakeEtcd().client, channel: { send: async () => {}, close: async () => {} } as never, probe: async () => {}, logger: silentLogger, ...extra });
}

test('cluster: leaseTtlMs in milliseconds, whole seconds from 2000 (etcd counts seconds); bad values name the option', () => {
  const { client, ttls } = fakeEtcd();
  new ClusterRegistry({ client, channel: { send: async () => {}, close: async () => {} } as never, probe: async () => {}, logger: silentLogger });
  new ClusterRegistry({ client, channel: { send: async () => {}, close: async () => {} } as never, probe: async () => {}, logger: silentLogger, leaseTtlMs: 5000 });
  assert.deepEqual(ttls, [3, 5]);
  assert.throws(() => clusterNode({ leaseTtlMs: 1000 }), { code: 'INVALID_OPTION', message: /^option "leaseTtlMs" must be whole seconds in milliseconds, at least 2000/ });
  assert.throws(() => clusterNode({ leaseTtlMs: 2500 }), { code: 'INVALID_OPTION', message: /^option "leaseTtlMs" must be whole seconds/ });
  assert.throws(() => clusterNode({ options: { notify: { timeoutMS: 1 } } }), { code: 'INVALID_OPTION', message: /^option "notify\.timeoutMS" is not an option of the registry/ });
});

test('startRegistry refuses an option it does not know before anything starts, its own or the registry\'s', async () => {
  await assert.rejects(startRegistry({ prot: 0 } as StartRegistryOptions), { code: 'INVALID_OPTION', message: /^option "prot" is not an option of startRegistry; known: (?=.*\bport\b)(?=.*\bhealth\b)/ });
  await assert.rejects(startRegistry({ notify: { timeoutMS: 5 } } as StartRegistryOptions), { code: 'INVALID_OPTION', message: /^option "notify\.timeoutMS" is not an option of startRegistry; known: timeoutMs, / });
});
