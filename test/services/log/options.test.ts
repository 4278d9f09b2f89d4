// The log parts' options (the service logger, the log file, the writer identity, the app): one schema each;
// a misspelled option is refused naming it, and a bad value names the option.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServiceLogger, openLogStore, type LogStoreOptions, type ServiceLoggerOptions } from '../../../src/services/log/index.js';
import { createWhoamiIdentity, type WhoamiIdentityOptions } from '../../../src/services/log/writer-identity.js';
import { buildLogApp } from '../../../src/services/log/app.js';

const loggerBase: ServiceLoggerOptions = { service: 'Greeter', stdout: false };

test('service logger: a misspelled option is refused naming it; a bad value names the option', () => {
  assert.throws(() => createServiceLogger({ ...loggerBase, bufferSise: 10 } as ServiceLoggerOptions), {
    code: 'INVALID_OPTION',
    message: /^option "bufferSise" is not an option of createServiceLogger; known: .*\bbufferSize\b/,
  });
  const cases: Array<[Partial<Record<keyof ServiceLoggerOptions, unknown>>, string]> = [
    [{ bufferSize: 0 }, 'option "bufferSize" must be a whole number ≥ 1'],
    [{ retryMaxMs: 1.5 }, 'option "retryMaxMs" must be a whole number of milliseconds ≥ 1'],
    [{ stdoutFormat: 'xml' }, 'option "stdoutFormat" must be "readable" or "json"'],
    [{ level: 'loud' }, 'option "level" must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent"'],
  ];
  for (const [override, message] of cases) assert.throws(() => createServiceLogger({ ...loggerBase, ...override } as ServiceLoggerOptions), { code: 'INVALID_OPTION', message }, message);
});

test('log store: a misspelled option is refused naming it; a bad value names the option', async () => {
  await assert.rejects(openLogStore({ maxFile: 3 } as LogStoreOptions), { code: 'INVALID_OPTION', message: 'option "maxFile" is not an option of the log store; known: dir, file, maxBytes, maxFiles, recentLimit' });
  await assert.rejects(openLogStore({ maxFiles: 1001 }), { code: 'INVALID_OPTION', message: 'option "maxFiles" must be a whole number from 0 to 1000' });
  await assert.rejects(openLogStore({ file: 'a/b.log' }), { code: 'INVALID_OPTION', message: 'option "file" must be a file name without a folder' });
});

test('writer identity: a misspelled option is refused naming it; a bad value names the option', () => {
  const base: WhoamiIdentityOptions = { registryUrls: () => [] };
  assert.throws(() => createWhoamiIdentity({ ...base, ttlMS: 5 } as WhoamiIdentityOptions), { code: 'INVALID_OPTION', message: /^option "ttlMS" is not an option of createWhoamiIdentity; known: .*\bttlMs\b/ });
  assert.throws(() => createWhoamiIdentity({ ...base, maxEntries: 0 }), { code: 'INVALID_OPTION', message: 'option "maxEntries" must be a whole number ≥ 1' });
  assert.throws(() => createWhoamiIdentity({ registryUrls: ['http://x'] } as never), { code: 'INVALID_OPTION', message: 'option "registryUrls" must be a function returning the registry URLs' });
});

test('log app: a misspelled option is refused naming it; a bad value names the option', () => {
  const store = { append: async () => {}, recent: () => [], close: async () => {} };
  const base = { store, identity: null };
  assert.throws(() => buildLogApp({ ...base, course: { enable: false } } as never), { code: 'INVALID_OPTION', message: 'option "course.enable" is not an option of buildLogApp; known: enabled, sources' });
  assert.throws(() => buildLogApp({ ...base, clock: Date.now } as never), { code: 'INVALID_OPTION', message: /^option "clock" is not an option of buildLogApp; known: store, identity, logger, now, course$/ });
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ course: { enabled: 'no' } }, 'option "course.enabled" must be true or false'],
    [{ course: { sources: '10.0.0.0/8' } }, 'option "course.sources" must be a list of IP addresses or CIDRs'],
    [{ identity: undefined }, 'option "identity" must be a WriterIdentity (identify(token)) or null'],
    [{ store: {} }, 'option "store" must be a LogStore (append, recent, close)'],
  ];
  for (const [override, message] of cases) assert.throws(() => buildLogApp({ ...base, ...override } as never), { code: 'INVALID_OPTION', message }, message);
});
