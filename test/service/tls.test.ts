// HTTPS end to end: a throwaway CA made with openssl, a registry serving HTTPS, and two services
// serving HTTPS, one requiring the other; the registry's patch reaches the dependent over TLS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import type { ChangeEvent } from '../../src/client/index.js';
import { startRegistry } from '../../src/registry/start-registry.js';
import { makePki } from '../helpers/pki.js';
import { startService, type StartServiceOptions } from '../../src/service/index.js';
import { FakeRegistry, recordingLogger } from '../helpers/fake-registry.js';

const BOUNDED = { timeout: 30_000 };

test('two services over HTTPS on an HTTPS registry: registered and patched over TLS', BOUNDED, async (t) => {
  const pki = makePki(t);
  const running = await startRegistry({ host: '127.0.0.1', port: 0, tls: pki, health: { intervalMs: 100, jitter: 0, timeoutMs: 1000, attempts: 1, retryDelayMs: 0 } });
  t.after(() => running.close());
  assert.match(running.url, /^https:\/\//);
  const base: Omit<StartServiceOptions, 'name'> = { host: '127.0.0.1', registryUrl: running.url, token: running.adminToken ?? undefined, tls: pki, handleSignals: false, logger: recordingLogger() };

  const portal = await startService({ ...base, name: 'Portal', requires: ['Grading'] });
  t.after(() => portal.close());
  assert.equal(portal.url, `https://127.0.0.1:${portal.port}`);
  assert.equal(portal.client.verifiesSignatures, true);

  const changed = once(portal.client, 'change') as Promise<[ChangeEvent]>;
  const grading = await startService({ ...base, name: 'Grading', handler: (_req, res) => void res.end('grades') });
  t.after(() => grading.close());
  const [change] = await changed;

  // The registry's patch, signed and over TLS, carried the new provider.
  assert.deepEqual(change.added, [grading.url]);
  assert.equal(typeof change.revision, 'number');
  assert.equal(portal.client.provider('Grading'), grading.url);
  const logs = (portal.client.options.logger as ReturnType<typeof recordingLogger>).messages('warn');
  assert.deepEqual(logs, []);
});

test('startService: cert without key (or a bad file) is refused before anything listens; ROSTER_TLS_CERT/KEY are read', BOUNDED, async (t) => {
  const pki = makePki(t);
  const registry = await FakeRegistry.start();
  t.after(() => registry.stop());
  const base: StartServiceOptions = { name: 'LogService', host: '127.0.0.1', registryUrl: registry.url, handleSignals: false, logger: recordingLogger() };
  await assert.rejects(startService({ ...base, tls: { cert: pki.cert } }), { code: 'INVALID_OPTION', message: /^option "tls.key" must be given with tls.cert/ });
  await assert.rejects(startService({ ...base, tls: { cert: pki.key, key: pki.key } }), { code: 'INVALID_OPTION', message: /^option "tls.cert" must be the path of a PEM file holding a certificate/ });
  await assert.rejects(startService({ ...base, tls: { cert: pki.cert, key: join(pki.cert, 'missing') } }), { code: 'INVALID_OPTION', message: /^option "tls.key" names a file that cannot be read/ });
  await assert.rejects(startService({ ...base, url: 'http://127.0.0.1:1', tls: { cert: pki.cert, key: pki.key } }), { code: 'INVALID_OPTION', message: /^option "url" must be an https:\/\/ URL/ });
  assert.equal(registry.requests.length, 0);

  const saved = { cert: process.env.ROSTER_TLS_CERT, key: process.env.ROSTER_TLS_KEY };
  t.after(() => {
    for (const [name, value] of [['ROSTER_TLS_CERT', saved.cert], ['ROSTER_TLS_KEY', saved.key]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  process.env.ROSTER_TLS_CERT = pki.cert;
  process.env.ROSTER_TLS_KEY = pki.key;
  const service = await startService(base);
  t.after(() => service.close());
  assert.match(service.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(JSON.parse(registry.requests[0]?.body ?? '{}').heartbeatUrl, `${service.url}/heartbeat`);
});
