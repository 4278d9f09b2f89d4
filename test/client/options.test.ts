import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryClient, type RegistryClientOptions } from '../../src/client/index.js';

const base: RegistryClientOptions = { service: 'Portal', url: 'http://localhost:5000/', registryUrl: 'http://localhost:3000' };

test('defaults: update and heartbeat URLs hang off the service URL; options are frozen', () => {
  const { options } = new RegistryClient(base);
  assert.equal(options.url, 'http://localhost:5000');
  assert.equal(options.updateUrl, 'http://localhost:5000/services');
  assert.equal(options.heartbeatUrl, 'http://localhost:5000/heartbeat');
  assert.equal(options.protocol, 'roster');
  assert.equal(options.strategy, 'round-robin');
  assert.equal(options.requestTimeoutMs, 2000);
  assert.equal(options.checkIntervalMs, 5000);
  assert.deepEqual(options.requires, []);
  assert.ok(Object.isFrozen(options) && Object.isFrozen(options.requires));
});

test('registryUrl defaults to ROSTER_REGISTRY_URL (comma-separated) or http://localhost:3000', (t) => {
  const saved = process.env.ROSTER_REGISTRY_URL;
  t.after(() => {
    if (saved === undefined) delete process.env.ROSTER_REGISTRY_URL;
    else process.env.ROSTER_REGISTRY_URL = saved;
  });
  delete process.env.ROSTER_REGISTRY_URL;
  assert.deepEqual(new RegistryClient({ ...base, registryUrl: undefined }).options.registryUrls, ['http://localhost:3000']);
  process.env.ROSTER_REGISTRY_URL = 'http://a:3000, http://b:3000/';
  assert.deepEqual(new RegistryClient({ ...base, registryUrl: undefined }).options.registryUrls, ['http://a:3000', 'http://b:3000']);
});

test('TTL mode: heartbeatUrl null takes ttlMs (default 15000); null updateUrl means no callbacks', () => {
  const { options } = new RegistryClient({ ...base, heartbeatUrl: null, updateUrl: null });
  assert.equal(options.ttlMs, 15000);
  assert.equal(options.updateUrl, null);
});

test('bad options throw INVALID_OPTION naming the option', () => {
  const cases: Array<[Partial<Record<keyof RegistryClientOptions, unknown>>, string]> = [
    [{ service: '1bad' }, 'service'],
    [{ url: 'localhost:5000' }, 'url'],
    [{ registryUrl: ['http://ok', 'ftp://no'] }, 'registryUrl'],
    [{ protocol: 'grpc' }, 'protocol'],
    [{ requires: ['LogService', 'LogService'] }, 'requires'],
    [{ strategy: 'least-loaded' }, 'strategy'],
    [{ requestTimeoutMs: 0 }, 'requestTimeoutMs'],
    [{ ttlMs: 5000 }, 'ttlMs'],
    [{ protocol: 'course', heartbeatUrl: null }, 'heartbeatUrl'],
    [{ logger: { info() {} } }, 'logger'],
  ];
  for (const [override, name] of cases) {
    assert.throws(() => new RegistryClient({ ...base, ...override } as RegistryClientOptions), { code: 'INVALID_OPTION', message: new RegExp(`^option "${name}" `) }, name);
  }
});
