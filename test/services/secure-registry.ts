// A real registry, secure as it is by default, with one register-scoped token per demo service
// (as `roster up` writes them): tests run the services with the token of their own part.
import type { TestContext } from 'node:test';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type RunningRegistry, type StartRegistryOptions } from '../../src/registry/start-registry.js';
import { DEMO_SERVICES, type DemoPart } from '../../src/services/names.js';

export interface PartTokens {
  log: string;
  grading: string;
  portal: string;
  /** The registry's admin token. */
  admin: string;
}

export interface SecureRegistry {
  registry: RunningRegistry;
  tokens: PartTokens;
}

const PARTS = Object.values(DEMO_SERVICES).map(({ part, name }) => [part, name] as const);

/** Started on 127.0.0.1:0 and closed after the test; its tokens file is written first, mode 0600. */
export async function secureRegistry(t: TestContext, options: StartRegistryOptions = {}): Promise<SecureRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'roster-secure-registry-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const secrets = Object.fromEntries(PARTS.map(([part]) => [part, randomBytes(24).toString('base64url')])) as Record<DemoPart, string>;
  const tokensFile = join(dir, 'tokens.json');
  const tokens = PARTS.map(([part, service]) => ({ name: part, secret: secrets[part], scopes: ['register'], services: [service] }));
  writeFileSync(tokensFile, JSON.stringify({ tokens }), { mode: 0o600 });
  const registry = await startRegistry({ host: '127.0.0.1', port: 0, ...options, auth: { tokensFile, ...options.auth } });
  t.after(() => registry.close());
  if (registry.adminToken === null) throw new Error('the registry started without authentication');
  return { registry, tokens: { ...secrets, admin: registry.adminToken } };
}
