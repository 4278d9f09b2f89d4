// Cluster mode against an etcd that takes only clients with a certificate from its CA, and
// with authentication on: a registry node given `etcdTls` and `etcdAuth` follows, leads and
// writes; a node with a wrong password or without a client certificate does not start.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Etcd3, Range } from 'etcd3';
import { startRegistry } from '../../../src/registry/start-registry.js';
import { startEtcdCluster, type EtcdTls } from '../../helpers/etcd-cluster.js';
import { makePki } from '../../helpers/pki.js';
import { ADMIN_TOKEN, freshPrefix, untilLeading } from './cluster-helpers.js';
import { startNode } from './cluster-nodes.js';

const ROSTER_USER = { username: 'roster', password: 'roster-etcd-password-0123' };
const ROOT_PASSWORD = 'root-etcd-password-0123';

/** The throwaway CA of makePki, and a client certificate it signs (beside its files). */
function etcdPki(t: TestContext): EtcdTls {
  const pki = makePki(t);
  const dir = dirname(pki.ca);
  const path = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=roster-node', '-keyout', path('client.key'), '-out', path('client.csr'));
  writeFileSync(path('client.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n');
  openssl('x509', '-req', '-in', path('client.csr'), '-CA', pki.ca, '-CAkey', path('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', path('client.ext'), '-out', path('client.pem'));
  return { ...pki, clientCert: path('client.pem'), clientKey: path('client.key') };
}

/** Adds root and a `roster` user allowed `prefix` and the election keys, then turns authentication on. */
async function enableAuth(endpoints: string[], tls: EtcdTls, prefix: string): Promise<void> {
  const read = (file: string) => readFileSync(file);
  const admin = new Etcd3({ hosts: endpoints, credentials: { rootCertificate: read(tls.ca), certChain: read(tls.clientCert), privateKey: read(tls.clientKey) } });
  try {
    await admin.user('root').create(ROOT_PASSWORD);
    await admin.user('root').addRole('root');
    const role = await admin.role('roster-node').create();
    await role.grant([
      { permission: 'Readwrite', range: Range.prefix(prefix) },
      // etcd3's elections keep their keys under election/<name>/.
      { permission: 'Readwrite', range: Range.prefix('election/') },
    ]);
    await admin.user(ROSTER_USER.username).create(ROSTER_USER.password);
    await admin.user(ROSTER_USER.username).addRole('roster-node');
    await admin.auth.authEnable();
  } finally {
    admin.close();
  }
}

async function secureEtcd(t: TestContext) {
  const tls = etcdPki(t);
  const etcd = await startEtcdCluster(t, 1, tls);
  const prefix = freshPrefix();
  await enableAuth(etcd.endpoints, tls, prefix);
  const etcdTls = { ca: tls.ca, cert: tls.clientCert, key: tls.clientKey };
  return { etcd, prefix, etcdTls };
}

test('a node with the client certificate and the password leads and takes writes', { timeout: 60_000 }, async (t) => {
  const { etcd, prefix, etcdTls } = await secureEtcd(t);
  const node = await startNode(t, etcd.endpoints, prefix, { etcdTls, etcdAuth: ROSTER_USER });
  await untilLeading(node.cluster);
  const response = await fetch(`${node.url}/v1/instances`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ service: 'Reports', url: 'http://127.0.0.1:9/reports', ttlMs: 60_000 }),
  });
  assert.equal(response.status, 201, await response.text());
  assert.deepEqual(node.cluster.instances().map((i) => i.service), ['Reports']);
});

test('a wrong password, or no client certificate, and the node does not start', { timeout: 60_000 }, async (t) => {
  const { etcd, prefix, etcdTls } = await secureEtcd(t);
  const start = (extra: object) => startRegistry({ host: '127.0.0.1', port: 0, store: 'etcd', etcdEndpoints: etcd.endpoints, etcdPrefix: prefix, auth: { adminToken: ADMIN_TOKEN }, ...extra });
  await assert.rejects(start({ etcdTls, etcdAuth: { ...ROSTER_USER, password: 'wrong' } }), (error: Error) => {
    assert.match(error.message, /etcd at https:\/\/127\.0\.0\.1:\d+: .*authentication failed/);
    return true;
  });
  // etcd ends the TLS handshake of a client without a certificate: no connection at all.
  await assert.rejects(start({ etcdTls: { ca: etcdTls.ca }, etcdAuth: ROSTER_USER }), (error: Error) => {
    assert.match(error.message, /etcd at https:\/\/127\.0\.0\.1:\d+: .*UNAVAILABLE/);
    return true;
  });
});
