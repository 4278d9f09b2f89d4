// How a registry node proves itself to etcd: TLS (a CA, optionally a client certificate) and
// etcd's own user and password (env ROSTER_ETCD_USERNAME / ROSTER_ETCD_PASSWORD).
import type { IOptions } from 'etcd3';
import { checkOption, invalidArgument } from '../../protocol/errors.js';
import { readPem } from '../auth/registry-security.js';

export interface EtcdTlsOptions {
  /** PEM CA bundle that signed the etcd servers' certificates. */
  ca?: string;
  /** PEM client certificate, for etcd's --client-cert-auth. */
  cert?: string;
  /** PEM key of `cert`. */
  key?: string;
}

export interface EtcdAuthOptions {
  username: string;
  password: string;
}

/** The credentials and auth options of the etcd3 client. */
export async function etcdClientSecurity(tls: EtcdTlsOptions | undefined, auth: EtcdAuthOptions | undefined, env: NodeJS.ProcessEnv): Promise<Pick<IOptions, 'credentials' | 'auth'>> {
  const user = auth ?? envAuth(env);
  if (user) checkOption(typeof user.username === 'string' && user.username.length > 0 && typeof user.password === 'string', 'etcdAuth', 'a username and a password');
  const credentials = tls ? await loadEtcdTls(tls) : undefined;
  return { ...(credentials ? { credentials } : {}), ...(user ? { auth: { username: user.username, password: user.password } } : {}) };
}

function envAuth(env: NodeJS.ProcessEnv): EtcdAuthOptions | undefined {
  const username = env.ROSTER_ETCD_USERNAME;
  const password = env.ROSTER_ETCD_PASSWORD;
  if (!username && !password) return undefined;
  if (!username || password === undefined) {
    throw invalidArgument('ROSTER_ETCD_USERNAME and ROSTER_ETCD_PASSWORD', 'given together, or not at all');
  }
  return { username, password };
}

async function loadEtcdTls(tls: EtcdTlsOptions): Promise<IOptions['credentials']> {
  if (tls.ca === undefined && tls.cert === undefined && tls.key === undefined) return undefined;
  checkOption(tls.ca !== undefined, 'etcdTls.ca', 'given to reach etcd over TLS (--etcd-ca)');
  checkOption((tls.cert === undefined) === (tls.key === undefined), tls.cert === undefined ? 'etcdTls.cert' : 'etcdTls.key', 'given too: a client certificate needs its key (--etcd-cert with --etcd-key)');
  const [rootCertificate, certChain, privateKey] = await Promise.all([
    readPem(tls.ca!, 'etcdTls.ca'),
    tls.cert === undefined ? undefined : readPem(tls.cert, 'etcdTls.cert'),
    tls.key === undefined ? undefined : readPem(tls.key, 'etcdTls.key'),
  ]);
  return { rootCertificate, ...(certChain ? { certChain } : {}), ...(privateKey ? { privateKey } : {}) };
}
