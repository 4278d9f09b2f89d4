// A real registry (startRegistry on 127.0.0.1:0) with small limits and two register tokens of
// its own, alice and bob, beside its admin token; and the small requests the limit tests make.
import type { TestContext } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startRegistry, type RunningRegistry, type StartRegistryOptions } from '../../../src/registry/start-registry.js';

export const SECRETS = { alice: 'alice-limits-secret-0123456789', bob: 'bob-limits-secret-0123456789' } as const;

export interface LimitsRegistry extends RunningRegistry {
  admin: string;
}

export async function startLimitsRegistry(t: TestContext, options: StartRegistryOptions = {}): Promise<LimitsRegistry> {
  const dataDir = mkdtempSync(join(tmpdir(), 'roster-limits-'));
  const tokensFile = join(dataDir, 'tokens.json');
  const tokens = Object.entries(SECRETS).map(([name, secret]) => ({ name, secret, scopes: ['register'] }));
  writeFileSync(tokensFile, JSON.stringify({ tokens }), { mode: 0o600 });
  // Probes a minute apart: these tests register TTL instances and never wait for a probe.
  const running = await startRegistry({ host: '127.0.0.1', port: 0, store: 'memory', dataDir, auth: { tokensFile }, health: { intervalMs: 60_000 }, ...options });
  t.after(async () => {
    await running.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return { ...running, admin: running.adminToken as string };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body as JSON, or undefined when it is not JSON. */
  json: { code?: string; message?: string } & Record<string, unknown>;
}

export async function call(url: string, method: 'GET' | 'POST' | 'DELETE', path: string, options: { token?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] ??= 'application/json';
  const answer = await request(`${url}${path}`, { method, headers, body: options.body });
  const text = await answer.body.text();
  let json: Answer['json'];
  try {
    json = JSON.parse(text) as Answer['json'];
  } catch {
    json = {};
  }
  return { status: answer.statusCode, headers: answer.headers, text, json };
}

/** A v1 registration that renews itself (no probe); `url` defaults to one per service and port. */
export function v1Body(service: string, port: number, extra: object = {}): string {
  return JSON.stringify({ service, url: `http://127.0.0.1:${port}`, ttlMs: 60_000, ...extra });
}

export function registerV1(url: string, token: string, service: string, port: number): Promise<Answer> {
  return call(url, 'POST', '/v1/instances', { token, body: v1Body(service, port) });
}

/** A course registration: no update URL (nothing to call back), no heartbeat URL. */
export function courseBody(service: string, port: number): string {
  return JSON.stringify({ ServiceName: service, ServiceURL: `http://127.0.0.1:${port}`, RequiredServices: [], ServiceUpdateURL: '', HeartbeatURL: '' });
}

/** The URLs of every registered instance, sorted: what a refusal must leave as it was. */
export async function catalogUrls(running: LimitsRegistry): Promise<string[]> {
  return running.registry.instances().map((record) => record.url).sort();
}

/** `roster_limit_rejections_total{limit="<limit>"}` as /metrics reports it. */
export async function rejectionsOf(running: LimitsRegistry, limit: string): Promise<number> {
  const { text } = await call(running.url, 'GET', '/metrics', { token: running.admin });
  const line = text.split('\n').find((entry) => entry.startsWith(`roster_limit_rejections_total{limit="${limit}"}`));
  if (!line) throw new Error(`/metrics has no roster_limit_rejections_total for ${limit}`);
  return Number(line.split(' ').at(-1));
}
