// A throwaway CA and a server certificate it signed for localhost and 127.0.0.1, made with
// openssl in a scratch folder that is removed after the test.
import type { TestContext } from 'node:test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pki {
  /** Paths of the CA's certificate, the server's certificate and its key (PEM). */
  ca: string;
  cert: string;
  key: string;
}

export function makePki(t: TestContext): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'roster-pki-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=Roster test CA', '-keyout', path('ca.key'), '-out', path('ca.pem'));
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', path('server.key'), '-out', path('server.csr'));
  writeFileSync(path('san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', path('server.csr'), '-CA', path('ca.pem'), '-CAkey', path('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', path('san.ext'), '-out', path('server.pem'));
  return { ca: path('ca.pem'), cert: path('server.pem'), key: path('server.key') };
}
