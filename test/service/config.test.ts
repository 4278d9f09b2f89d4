// startService's options: its own and the client's it passes on, one schema; a misspelled option
// is refused naming it, before anything listens, and a bad value names the option.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startService, type StartServiceOptions } from '../../src/service/index.js';
import { resolveServiceConfig } from '../../src/service/config.js';

const base: StartServiceOptions = { name: 'Greeter', host: '127.0.0.1', port: 0, handleSignals: false };

test('defaults are filled in and the result is frozen', () => {
  const config = resolveServiceConfig(base);
  assert.equal(config.shutdownTimeoutMs, 5000);
  assert.equal(config.handleSignals, false);
  assert.ok(Object.isFrozen(config));
});

test('a misspelled option, its own or the client\'s, is refused naming it and the options startService knows', async () => {
  for (const name of ['shutdownTimeoutMS', 'requestTimeoutMS', 'handlr']) {
    await assert.rejects(startService({ ...base, [name]: 1 } as StartServiceOptions), {
      code: 'INVALID_OPTION',
      message: new RegExp(`^option "${name}" is not an option of startService; known: (?=.*\\bshutdownTimeoutMs\\b)(?=.*\\brequestTimeoutMs\\b)`),
    });
  }
  assert.throws(() => resolveServiceConfig({ ...base, tls: { crt: 'c.pem' } } as never), { code: 'INVALID_OPTION', message: /^option "tls\.crt" is not an option of startService; known: cert, key, ca$/ });
  assert.throws(() => resolveServiceConfig({ ...base, waitForRequired: { timeout: 5 } } as never), {
    code: 'INVALID_OPTION',
    message: /^option "waitForRequired\.timeout" is not an option of startService; known: timeoutMs$/,
  });
});

test('a bad value names the option and says what it must be', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ port: 70000 }, /^option "port" must be a whole number from 0 to 65535/],
    [{ shutdownTimeoutMs: -1 }, /^option "shutdownTimeoutMs" must be a whole number of milliseconds ≥ 0$/],
    [{ handleSignals: 'yes' }, /^option "handleSignals" must be true or false$/],
    [{ waitForRequired: { timeoutMs: 0 } }, /^option "waitForRequired\.timeoutMs" must be a whole number of milliseconds ≥ 1$/],
    [{ waitForRequired: 'yes' }, /^option "waitForRequired" must be true, false or \{ timeoutMs \}$/],
    [{ requestTimeoutMs: 0 }, /^option "requestTimeoutMs" must be a whole number of milliseconds ≥ 1$/],
    [{ handler: 'app' }, /^option "handler" must be a request listener function$/],
  ];
  for (const [override, message] of cases) assert.throws(() => resolveServiceConfig({ ...base, ...override } as StartServiceOptions), { code: 'INVALID_OPTION', message }, String(message));
});

test('server limits: a misspelled limit is refused naming it; a bad value names the limit', () => {
  assert.throws(() => resolveServiceConfig({ ...base, server: { keepAliveTimeoutMS: 10 } } as never), {
    code: 'INVALID_OPTION',
    message: /^option "server\.keepAliveTimeoutMS" is not an option of startService; known: maxConnections, headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs$/,
  });
  assert.throws(() => resolveServiceConfig({ ...base, server: { keepAliveTimeoutMs: 1.5 } }), { code: 'INVALID_OPTION', message: 'option "server.keepAliveTimeoutMs" must be a whole number of milliseconds ≥ 1' });
  assert.throws(() => resolveServiceConfig({ ...base, server: { maxConnections: 0 } }), { code: 'INVALID_OPTION', message: 'option "server.maxConnections" must be a whole number ≥ 1' });
});
