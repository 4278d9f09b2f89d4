// A registry app with authentication on, listening on 127.0.0.1:0, and a few tokens to call it
// with. Notifications and probes are stubbed: these tests are about who may do what.
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildRegistryServer, type RegistryServerOptions } from '../../../src/registry/http/server.js';
import { Registry } from '../../../src/registry/registry.js';
import type { TokenSpec } from '../../../src/registry/auth/tokens-file.js';

export const SECRETS = {
  admin: 'admin-secret-0123456789',
  reader: 'reader-secret-0123456789',
  grading: 'grading-secret-0123456789',
  alice: 'alice-secret-0123456789',
  bob: 'bob-secret-0123456789',
} as const;

export const TOKENS: TokenSpec[] = [
  { name: 'reader', secret: SECRETS.reader, scopes: ['read'] },
  { name: 'grading', secret: SECRETS.grading, scopes: ['register'], services: ['GradingService'] },
  { name: 'alice', secret: SECRETS.alice, scopes: ['register'] },
  { name: 'bob', secret: SECRETS.bob, scopes: ['register'] },
];

export interface AuthServer {
  url: string;
  app: FastifyInstance;
  registry: Registry;
}

export async function startAuthServer(t: TestContext, options: RegistryServerOptions = {}, beforeReady?: (app: FastifyInstance) => void): Promise<AuthServer> {
  const registry = new Registry({
    channel: { send: async () => undefined, close: async () => undefined },
    probe: async () => undefined,
    options: { initialDeliveryWaitMs: 0 },
  });
  const app = buildRegistryServer(registry, { auth: { adminToken: SECRETS.admin, tokens: TOKENS }, ...options });
  beforeReady?.(app);
  t.after(async () => {
    await app.close();
    await registry.close();
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`, app, registry };
}

export function bearer(secret: string): { authorization: string } {
  return { authorization: `Bearer ${secret}` };
}

/** A v1 registration that needs no probe: it renews itself. */
export function ttlRegistration(service: string, url: string, extra: object = {}): string {
  return JSON.stringify({ service, url, ttlMs: 60_000, ...extra });
}

export const JSON_HEADERS = { 'content-type': 'application/json' } as const;
