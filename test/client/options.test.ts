import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryClient, type RegistryClientOptions } from '../../src/client/index.js';

const base: RegistryClientOptions = { service: 'Portal', url: 'http://localhost:5000/', registryUrl: 'http://localhost:3000' };

test('defaults: update and heartbeat URLs hang off the service URL; options are frozen', () => {
  const logger = { info() {}, warn() {}, error() {}, debug() {} };
  const { options } = new RegistryClient({ ...base, logger, metadata: { zone: 'a' } });
  assert.equal(options.logger, logger, 'a collaborator is kept as given');
  assert.ok(!Object.isFrozen(logger), 'and never frozen');
  assert.ok(Object.isFrozen(options.metadata));
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
    [{ requires: ['LogService', '1bad'] }, 'requires\\[1\\]'],
    [{ checkIntervalMs: 1.5 }, 'checkIntervalMs'],
    [{ tls: { ca: '' } }, 'tls.ca'],
  ];
  for (const [override, name] of cases) {
    assert.throws(() => new RegistryClient({ ...base, ...override } as RegistryClientOptions), { code: 'INVALID_OPTION', message: new RegExp(`^option "${name}" `) }, name);
  }
});

test('a misspelled option is refused, naming it and the options RegistryClient knows', () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ requestTimeoutMS: 100 }, 'requestTimeoutMS'],
    [{ registryURL: 'http://localhost:3000' }, 'registryURL'],
    [{ tls: { cert: 'c.pem' } }, 'tls.cert'],
  ];
  for (const [override, name] of cases) {
    assert.throws(
      () => new RegistryClient({ ...base, ...override } as RegistryClientOptions),
      { code: 'INVALID_OPTION', message: new RegExp(`^option "${name}" is not an option of RegistryClient; known: .*\\b(requestTimeoutMs|ca)\\b`) },
      name,
    );
  }
});

function withEnv(t: { after(fn: () => void): void }, values: Record<string, string | undefined>): void {
  const saved = Object.fromEntries(Object.keys(values).map((key) => [key, process.env[key]]));
  t.after(() => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
}

test('token: the option, else ROSTER_TOKEN, else none; it must fit in a header', (t) => {
  withEnv(t, { ROSTER_TOKEN: undefined });
  assert.equal(new RegistryClient(base).options.token, null);
  process.env.ROSTER_TOKEN = ' from-env ';
  assert.equal(new RegistryClient(base).options.token, 'from-env');
  assert.equal(new RegistryClient({ ...base, token: 'explicit' }).options.token, 'explicit');
  for (const token of ['', 'two words', 'line\nbreak', 42 as unknown as string]) {
    assert.throws(() => new RegistryClient({ ...base, token }), { code: 'INVALID_OPTION', message: /^option "token" must be a non-empty token/ }, String(token));
  }
  process.env.ROSTER_TOKEN = 'bad token';
  assert.throws(() => new RegistryClient(base), { code: 'INVALID_OPTION', message: /^option "ROSTER_TOKEN"/ });
});

test('tls.ca: a PEM bundle read at construction (option, else ROSTER_TLS_CA); a bad path names the option', async (t) => {
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'roster-ca-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  await writeFile(join(dir, 'ca.pem'), pem);
  await writeFile(join(dir, 'empty.pem'), 'nothing here');
  withEnv(t, { ROSTER_TLS_CA: undefined });

  assert.equal(new RegistryClient(base).options.tlsCa, null);
  assert.equal(new RegistryClient({ ...base, tls: { ca: join(dir, 'ca.pem') } }).options.tlsCa, pem);
  process.env.ROSTER_TLS_CA = join(dir, 'ca.pem');
  assert.equal(new RegistryClient(base).options.tlsCa, pem);
  process.env.ROSTER_TLS_CA = join(dir, 'missing.pem');
  assert.throws(() => new RegistryClient(base), { code: 'INVALID_OPTION', message: /^option "ROSTER_TLS_CA" names a CA file that cannot be read: .*missing\.pem/ });
  delete process.env.ROSTER_TLS_CA;
  assert.throws(() => new RegistryClient({ ...base, tls: { ca: join(dir, 'empty.pem') } }), { code: 'INVALID_OPTION', message: /^option "tls.ca" must be the path of a PEM CA bundle/ });
  assert.throws(() => new RegistryClient({ ...base, tls: 'ca.pem' as never }), { code: 'INVALID_OPTION', message: /^option "tls" / });
});
