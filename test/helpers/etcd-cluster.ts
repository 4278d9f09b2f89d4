// A real etcd cluster on loopback for the tests: N members on free ports, temp data dirs,
// stopped and removed afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './processes.js';

export interface EtcdMember {
  name: string;
  clientUrl: string;
  process: ChildProcess;
  output: string;
}

export interface EtcdCluster {
  members: EtcdMember[];
  endpoints: string[];
  kill(member: EtcdMember): Promise<void>;
}

/** Paths of PEM files: etcd serves its clients over TLS and takes only clients with a certificate from `ca`. */
export interface EtcdTls {
  ca: string;
  /** The server's certificate and key (for 127.0.0.1). */
  cert: string;
  key: string;
  /** A client certificate signed by `ca`, which this helper uses to see that a member is healthy. */
  clientCert: string;
  clientKey: string;
}

/** `scope` is a test context, or `{ after }` from node:test for a cluster shared by a whole file. */
export async function startEtcdCluster(scope: { after(fn: () => Promise<void>): void }, size = 3, tls?: EtcdTls): Promise<EtcdCluster> {
  const dataRoot = mkdtempSync(join(tmpdir(), 'roster-etcd-'));
  const ports: Array<{ client: number; peer: number }> = [];
  for (let i = 0; i < size; i++) ports.push({ client: await freePort(), peer: await freePort() });
  const names = ports.map((_, i) => `m${i + 1}`);
  const initialCluster = names.map((name, i) => `${name}=http://127.0.0.1:${ports[i]!.peer}`).join(',');
  const members = names.map((name, i) => startMember(name, ports[i]!, initialCluster, join(dataRoot, name), tls));
  scope.after(async () => {
    await Promise.all(members.map((member) => stop(member)));
    rmSync(dataRoot, { recursive: true, force: true });
  });
  await Promise.all(members.map((member) => waitHealthy(member, tls)));
  return { members, endpoints: members.map((m) => m.clientUrl), kill: stop };
}

function startMember(name: string, ports: { client: number; peer: number }, initialCluster: string, dataDir: string, tls: EtcdTls | undefined): EtcdMember {
  const clientUrl = `${tls ? 'https' : 'http'}://127.0.0.1:${ports.client}`;
  const clientTls = tls ? ['--cert-file', tls.cert, '--key-file', tls.key, '--trusted-ca-file', tls.ca, '--client-cert-auth'] : [];
  const peerUrl = `http://127.0.0.1:${ports.peer}`;
  const child = spawn('etcd', [
    '--name', name, '--data-dir', dataDir, '--logger=zap', '--log-level=error',
    '--listen-client-urls', clientUrl, '--advertise-client-urls', clientUrl,
    '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl,
    '--initial-cluster', initialCluster, '--initial-cluster-state', 'new', '--initial-cluster-token', `roster-test-${process.pid}`,
    // Quick elections on loopback, so a lost member costs the tests little time.
    '--heartbeat-interval', '50', '--election-timeout', '500',
    ...clientTls,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  const member: EtcdMember = { name, clientUrl, process: child, output: '' };
  child.stdout.on('data', (chunk) => (member.output += chunk));
  child.stderr.on('data', (chunk) => (member.output += chunk));
  return member;
}

/**
 * etcd answers /health once the member has joined a cluster with a leader. Nothing announces
 * that moment (a member logs that it serves clients before the cluster has a leader), so this
 * asks, every 100 ms, for at most 20 s.
 */
async function waitHealthy(member: EtcdMember, tls: EtcdTls | undefined): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (member.process.exitCode !== null) throw new Error(`etcd ${member.name} exited: ${member.output}`);
    const healthy = await (tls ? healthyOverTls(member, tls) : fetch(`${member.clientUrl}/health`).then((r) => r.ok, () => false));
    if (healthy) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`etcd ${member.name} did not become healthy: ${member.output}`);
}

/** GET /health with a client certificate, which fetch cannot send. */
function healthyOverTls(member: EtcdMember, tls: EtcdTls): Promise<boolean> {
  const read = (path: string) => readFileSync(path, 'utf8');
  return new Promise((resolve) => {
    const request = httpsGet(`${member.clientUrl}/health`, { ca: read(tls.ca), cert: read(tls.clientCert), key: read(tls.clientKey), agent: false }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.on('error', () => resolve(false));
  });
}

async function stop(member: EtcdMember): Promise<void> {
  if (member.process.exitCode !== null || member.process.signalCode !== null) return;
  const exited = once(member.process, 'exit');
  member.process.kill('SIGKILL');
  await exited;
}
