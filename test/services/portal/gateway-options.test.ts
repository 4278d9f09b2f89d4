// The portal's gateways' options: one schema each; a misspelled option is refused naming it, and a
// bad value names the option.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createGradingGateway, type GradingGatewayOptions } from '../../../src/services/portal/grading-gateway.js';
import { createSystemGateway, type SystemGatewayOptions } from '../../../src/services/portal/system-gateway.js';

const client = { registryUrl: 'http://127.0.0.1:1', provider: () => 'http://127.0.0.1:1', providers: () => [] };

test('grading gateway: a misspelled option is refused naming it; a bad value names the option', () => {
  assert.throws(() => createGradingGateway({ client, timeoutMS: 5 } as GradingGatewayOptions), { code: 'INVALID_OPTION', message: 'option "timeoutMS" is not an option of createGradingGateway; known: client, timeoutMs' });
  assert.throws(() => createGradingGateway({ client, timeoutMs: 0 }), { code: 'INVALID_OPTION', message: 'option "timeoutMs" must be a whole number of milliseconds ≥ 1' });
  assert.throws(() => createGradingGateway({ client: {} } as never), { code: 'INVALID_OPTION', message: 'option "client" must be a RegistryClient' });
});

test('system gateway: a misspelled option is refused naming it; a bad value names the option', () => {
  assert.throws(() => createSystemGateway({ client, timeoutMS: 5 } as SystemGatewayOptions), { code: 'INVALID_OPTION', message: 'option "timeoutMS" is not an option of createSystemGateway; known: client, timeoutMs' });
  assert.throws(() => createSystemGateway({ client, timeoutMs: 2.5 }), { code: 'INVALID_OPTION', message: 'option "timeoutMs" must be a whole number of milliseconds ≥ 1' });
  assert.throws(() => createSystemGateway({ client: { provider: () => '' } } as never), { code: 'INVALID_OPTION', message: 'option "client" must be a RegistryClient' });
});
