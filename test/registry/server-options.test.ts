// The options of the registry's parts that take collaborators (the HTTP channel, the prober, a
// cluster node) and of its HTTP server (watch, changeLog, course, auth): one schema each; a
// misspelled option is refused naming it, and a bad value names the option.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { ClusterRegistry, type ClusterInit } from '../../src/registry/cluster/cluster-registry.js';
import { createHttpProber, type HttpProberOptions } from '../../src/registry/health/prober.js';
import { buildRegistryServer, type RegistryServerOptions } from '../../src/registry/http/server.js';
import { HttpChannel, type HttpChannelOptionsInput } from '../../src/registry/notify/http-channel.js';
import { Registry } from '../../src/registry/registry.js';
import { startRegistry, type StartRegistryOptions } from '../../src/registry/start-registry.js';
import { silentLogger } from '../../src/shared/logger.js';

const channel = { send: async () => undefined, close: async () => undefined };

test('HttpChannel: a misspelled option is refused naming it; a bad value names the option', async (t) => {
  assert.throws(() => new HttpChannel({ keepAliveTimeoutMS: 5 } as HttpChannelOptionsInput), {
    code: 'INVALID_OPTION',
    message: 'option "keepAliveTimeoutMS" is not an option of HttpChannel; known: connections, keepAliveTimeoutMs, sign, ca, gate',
  });
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ connections: 0 }, 'option "connections" must be a whole number ≥ 1'],
    [{ keepAliveTimeoutMs: 1.5 }, 'option "keepAliveTimeoutMs" must be a whole number of milliseconds ≥ 1'],
    [{ sign: 'key' }, 'option "sign" must be a function (target, body) returning a signature or null'],
    [{ gate: {} }, 'option "gate" must be an OriginGate'],
  ];
  for (const [options, message] of cases) assert.throws(() => new HttpChannel(options as HttpChannelOptionsInput), { code: 'INVALID_OPTION', message }, message);
  const good = new HttpChannel({ connections: 2 });
  t.after(() => good.close());
});

test('createHttpProber: a misspelled option is refused naming it; a bad value names the option', () => {
  assert.throws(() => createHttpProber({ signer: () => null } as HttpProberOptions), { code: 'INVALID_OPTION', message: 'option "signer" is not an option of createHttpProber; known: sign, ca, gate' });
  assert.throws(() => createHttpProber({ ca: '' }), { code: 'INVALID_OPTION', message: 'option "ca" must be a CA certificate (PEM text)' });
});

test('ClusterRegistry: a misspelled part of its init is refused naming it; a bad collaborator names the option', () => {
  const client = { election: () => ({}) } as unknown as Etcd3;
  const init: ClusterInit = { client, channel, probe: async () => undefined, logger: silentLogger };
  assert.throws(() => new ClusterRegistry({ ...init, prefx: '/x/' } as ClusterInit), { code: 'INVALID_OPTION', message: /^option "prefx" is not an option of ClusterRegistry; known: prefix, leaseTtlMs, client, channel, probe, / });
  assert.throws(() => new ClusterRegistry({ ...init, logger: console.log } as never), { code: 'INVALID_OPTION', message: 'option "logger" must be a Logger (debug, info, warn, error)' });
  assert.throws(() => new ClusterRegistry({ ...init, prefix: '' }), { code: 'INVALID_OPTION', message: /^option "prefix" must be an etcd key prefix/ });
});

test('buildRegistryServer: a misspelled watch, changeLog, course or auth option is refused naming it by its full path', (t) => {
  const registry = new Registry({ channel, probe: async () => undefined });
  t.after(() => registry.close(0));
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ watch: { keepAlive: 5 } }, /^option "watch\.keepAlive" is not an option of buildRegistryServer; known: keepAliveMs$/],
    [{ changeLog: { size: 5 } }, /^option "changeLog\.size" is not an option of buildRegistryServer; known: capacity$/],
    [{ course: { enable: false } }, /^option "course\.enable" is not an option of buildRegistryServer; known: enabled, sources$/],
    [{ auth: { insecure: true, token: 'x' } }, /^option "auth\.token" is not an option of buildRegistryServer; known: insecure, authenticator, adminToken, tokens$/],
    [{ auth: { insecure: true }, watchh: {} }, /^option "watchh" is not an option of buildRegistryServer; known: auth, course, watch, changeLog, /],
  ];
  for (const [options, message] of cases) assert.throws(() => buildRegistryServer(registry, options as RegistryServerOptions), { code: 'INVALID_OPTION', message }, String(message));
});

test('buildRegistryServer: a bad watch, changeLog, course or auth value names the option', (t) => {
  const registry = new Registry({ channel, probe: async () => undefined });
  t.after(() => registry.close(0));
  const insecure = { insecure: true };
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ auth: insecure, watch: { keepAliveMs: 0 } }, 'option "watch.keepAliveMs" must be a whole number of milliseconds ≥ 1'],
    [{ auth: insecure, changeLog: { capacity: 2.5 } }, 'option "changeLog.capacity" must be a whole number ≥ 1'],
    [{ auth: insecure, course: { enabled: 'no' } }, 'option "course.enabled" must be true or false'],
    [{ auth: insecure, course: { sources: '127.0.0.1' } }, 'option "course.sources" must be a list of IP addresses or CIDRs'],
    [{ auth: { insecure: 'yes' } }, 'option "auth.insecure" must be true or false'],
    [{ auth: { adminToken: 'short' } }, 'option "auth.adminToken" must be a secret of at least 16 characters without spaces'],
    [{ auth: { adminToken: 'sixteen chars and spaces' } }, 'option "auth.adminToken" must be a secret of at least 16 characters without spaces'],
    [{ auth: { tokens: {} } }, 'option "auth.tokens" must be a list of tokens as a tokens file states them'],
  ];
  for (const [options, message] of cases) assert.throws(() => buildRegistryServer(registry, options as RegistryServerOptions), { code: 'INVALID_OPTION', message }, message);
});

test('startRegistry refuses bad watch, changeLog, course and limits options before it opens the store', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'roster-options-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const base: StartRegistryOptions = { host: '127.0.0.1', port: 0, store: 'sqlite', dataDir, auth: { insecure: true } };
  const cases: Array<[StartRegistryOptions, RegExp]> = [
    [{ watch: { keepAliveMs: 0 } }, /^option "watch\.keepAliveMs" must be a whole number of milliseconds ≥ 1$/],
    [{ changeLog: { capacity: 0 } }, /^option "changeLog\.capacity" must be a whole number ≥ 1$/],
    [{ changeLog: { capacty: 5 } as never }, /^option "changeLog\.capacty" is not an option of startRegistry; known: capacity$/],
    [{ course: { enabled: 1 } as never }, /^option "course\.enabled" must be true or false$/],
    [{ limits: { headersTimeoutMs: 5000, requestTimeoutMs: 1000 } }, /^option "limits\.headersTimeoutMs" must be at most limits\.requestTimeoutMs \(1000\)$/],
  ];
  for (const [options, message] of cases) {
    await assert.rejects(startRegistry({ ...base, ...options }), { code: 'INVALID_OPTION', message }, String(message));
    assert.equal(existsSync(join(dataDir, 'registry.db')), false, `the store was opened before ${String(message)} was refused`);
  }
});

test('startRegistry: a misspelled auth, tls or etcd option is refused naming it; a bad value names the option', async () => {
  const base: StartRegistryOptions = { host: '127.0.0.1', port: 0 };
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ auth: { insecur: true } }, /^option "auth\.insecur" is not an option of startRegistry; known: insecure, tokensFile, adminToken$/],
    [{ tls: { crt: 'a.pem' } }, /^option "tls\.crt" is not an option of startRegistry; known: cert, key, ca$/],
    [{ auth: { tokensFile: '' } }, /^option "auth\.tokensFile" must be the path of a tokens file$/],
    [{ auth: { adminToken: 'short' } }, /^option "auth\.adminToken" must be a secret of at least 16 characters without spaces$/],
    [{ tls: { cert: 5 } }, /^option "tls\.cert" must be the path of a PEM file$/],
    [{ tokensWatchIntervalMs: 5 }, /^option "tokensWatchIntervalMs" must be a whole number of milliseconds ≥ 10$/],
    [{ etcdTls: { ca: 'ca.pem', crt: 'c.pem' } }, /^option "etcdTls\.crt" is not an option of startRegistry; known: ca, cert, key$/],
    [{ etcdAuth: { username: 'roster' } }, /^option "etcdAuth\.password" must be the etcd user's password$/],
    [{ port: 70000 }, /^option "port" must be a whole number from 0 to 65535 \(0 picks a free port\)$/],
    [{ store: 'redis' }, /^option "store" must be "memory", "sqlite", "etcd" or a RegistryStore \(load, write, close\)$/],
    [{ resetData: 'yes' }, /^option "resetData" must be true or false$/],
  ];
  for (const [options, message] of cases) await assert.rejects(startRegistry({ ...base, ...options } as StartRegistryOptions), { code: 'INVALID_OPTION', message }, String(message));
});
