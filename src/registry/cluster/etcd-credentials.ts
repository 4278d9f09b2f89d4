// How a registry node proves itself to etcd: TLS (a CA, optionally a client certificate) and
// etcd's own user and password (env ROSTER_ETCD_USERNAME / ROSTER_ETCD_PASSWORD).
import type { IOptions } from 'etcd3';
import { z } from 'zod';
import { checkOption, invalidArgument } from '../../protocol/errors.js';
import { text } from '../../shared/options.js';
import { readPem } from '../auth/registry-security.js';

/** startRegistry's `etcdTls`; which files go together is checked when they are read. */
export const etcdTlsOptionsSchema = z.strictObject({
  /** PEM CA bundle that signed the etcd servers' certificates. */
  ca: text('the path of a PEM file').optional(),
  /** PEM client certificate, for etcd's --client-cert-auth. */
  cert: text('the path of a PEM file').optional(),
  /** PEM key of `cert`. */
  key: text('the path of a PEM file').optional(),
});

/** startRegistry's `etcdAuth`: etcd's own user. */
export const etcdAuthOptionsSchema = z.strictObject({
  username: text('an etcd user name'),
  password: z.string({ error: 'the etcd user\'s password' }),
});

export type EtcdTlsOptions = z.input<typeof etcdTlsOptionsSchema>;
export type EtcdAuthOptions = z.input<typeof etcdAuthOptionsSchema>;

/** The credentials and auth options of the etcd3 client; `tls` and `auth` were checked by startRegistry's schema. */
export async function etcdClientSecurity(tls: EtcdTlsOptions | undefined, auth: EtcdAuthOptions | undefined, env: NodeJS.ProcessEnv): Promise<Pick<IOptions, 'credentials' | 'auth'>> {
  const user = auth ?? envAuth(env);
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
