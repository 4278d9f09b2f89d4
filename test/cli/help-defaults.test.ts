// The defaults `roster registry --help` and `roster up --help` show are the ones the code uses:
// read from the options' own modules, never written a second time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Command } from 'commander';
import { registryCommand } from '../../src/cli/commands/registry.js';
import { upCommand } from '../../src/cli/commands/up.js';
import { DEFAULT_HEALTH_OPTIONS } from '../../src/registry/health/health-checker.js';
import { DEFAULT_NOTIFIER_OPTIONS } from '../../src/registry/notify/notifier.js';
import { DEFAULT_START_OPTIONS } from '../../src/registry/options.js';

/** The default commander shows after each option's description in --help, by flag. */
function shownDefaults(command: Command): Map<string, unknown> {
  return new Map(command.options.map((option) => [option.long as string, option.defaultValue]));
}

test('roster registry --help shows the registry\'s own defaults', () => {
  const shown = shownDefaults(registryCommand());
  const expected: Record<string, unknown> = {
    '--host': DEFAULT_START_OPTIONS.host,
    '--port': DEFAULT_START_OPTIONS.port,
    '--data-dir': DEFAULT_START_OPTIONS.dataDir,
    '--etcd-endpoints': DEFAULT_START_OPTIONS.etcdEndpoints.join(','),
    '--etcd-prefix': DEFAULT_START_OPTIONS.etcdPrefix,
    '--health-interval': DEFAULT_HEALTH_OPTIONS.intervalMs,
    '--health-timeout': DEFAULT_HEALTH_OPTIONS.timeoutMs,
    '--health-attempts': DEFAULT_HEALTH_OPTIONS.attempts,
    '--health-retry-delay': DEFAULT_HEALTH_OPTIONS.retryDelayMs,
    '--grace': DEFAULT_HEALTH_OPTIONS.graceMs,
    '--ttl': DEFAULT_HEALTH_OPTIONS.defaultTtlMs,
    '--notify-timeout': DEFAULT_NOTIFIER_OPTIONS.timeoutMs,
  };
  for (const [flag, value] of Object.entries(expected)) assert.equal(shown.get(flag), value, flag);
  assert.match(registryCommand().helpInformation(), /--health-interval <ms>\s+time between probe rounds of an instance\s+\(default: 3000\)/);
});

test('roster up --help shows the registry\'s port and data folder', () => {
  const shown = shownDefaults(upCommand());
  assert.equal(shown.get('--registry-port'), DEFAULT_START_OPTIONS.port);
  assert.equal(shown.get('--data-dir'), DEFAULT_START_OPTIONS.dataDir);
});

test('a numeric flag is checked by the schema of the option it sets, in the same words', () => {
  let written = '';
  const command = registryCommand()
    .exitOverride()
    .configureOutput({ writeErr: (text) => (written += text), writeOut: () => {} });
  assert.throws(() => command.parse(['--health-interval', '0'], { from: 'user' }), { code: 'commander.invalidArgument' });
  assert.match(written, /--health-interval <ms>.*must be a whole number of milliseconds ≥ 1/);
});
