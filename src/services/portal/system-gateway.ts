// What the System page shows: the registry's services (GET /v1/services) and the latest entries
// of the log service (GET /v1/logs). Failures are RosterErrors whose message the page can show.
import { Agent, request } from 'undici';
import { z } from 'zod';
import type { ServiceView } from '../../protocol/index.js';
import { durationMs, resolveOptions } from '../../shared/options.js';
import { errorFromAnswer, internal, noProvider, type RosterError } from '../../protocol/errors.js';
import { LOG_SERVICE } from '../names.js';

export const DEFAULT_SYSTEM_TIMEOUT_MS = 3_000;

/** What the gateway needs of a RegistryClient. */
export interface SystemSources {
  /** The registry URL in use. */
  readonly registryUrl: string;
  /** Throws RosterError NO_PROVIDER when there is none. */
  provider(service: string): string;
  /** The portal's token: both the registry and the log service want one to read. Null: none. */
  readonly token?: string | null;
}

export interface LogEntryRecord {
  time: string;
  service: string;
  level: string;
  message: string;
}

export interface SystemGateway {
  services(): Promise<ServiceView[]>;
  /** Newest first. */
  recentLogs(limit: number): Promise<LogEntryRecord[]>;
}

export interface HttpSystemGateway extends SystemGateway {
  /** Frees the sockets. Idempotent. */
  close(): Promise<void>;
}

const systemGatewayOptionsSchema = z.strictObject({
  // registryUrl is read per request, not here: a client that is not registered yet has none.
  client: z.custom<SystemSources>((value) => typeof (value as SystemSources | undefined)?.provider === 'function' && 'registryUrl' in (value as object), { error: 'a RegistryClient' }),
  /** Per request. */
  timeoutMs: durationMs(1).default(DEFAULT_SYSTEM_TIMEOUT_MS),
});

export type SystemGatewayOptions = z.input<typeof systemGatewayOptionsSchema>;

export function createSystemGateway(options: SystemGatewayOptions): HttpSystemGateway {
  const { client, timeoutMs } = resolveOptions(systemGatewayOptionsSchema, options, { owner: 'createSystemGateway' });
  const agent = new Agent({ connect: { timeout: timeoutMs } });
  let closing: Promise<void> | null = null;
  const getJson = (what: string, url: string): Promise<unknown> => fetchJson(agent, timeoutMs, what, url, client.token ?? null);
  return {
    async services() {
      const body = await getJson('the registry', `${client.registryUrl}/v1/services`);
      return expectArray<ServiceView>(body, 'services', `the registry at ${client.registryUrl}`);
    },
    async recentLogs(limit) {
      const base = client.provider(LOG_SERVICE);
      const body = await getJson(`${LOG_SERVICE} at ${base}`, `${base}/v1/logs?limit=${limit}`);
      return expectArray<LogEntryRecord>(body, 'entries', `${LOG_SERVICE} at ${base}`);
    },
    close: () => (closing ??= agent.close()),
  };
}

async function fetchJson(agent: Agent, timeoutMs: number, what: string, url: string, token: string | null): Promise<unknown> {
  let status: number;
  let text: string;
  try {
    const headers = token === null ? {} : { authorization: `Bearer ${token}` };
    const response = await request(url, { dispatcher: agent, headers, signal: AbortSignal.timeout(timeoutMs) });
    status = response.statusCode;
    text = await response.body.text();
  } catch (error) {
    throw noProvider(`${what} cannot be reached (${describe(error, timeoutMs)})`, error);
  }
  if (status !== 200) throw refusal(what, url, status, text);
  try {
    return JSON.parse(text);
  } catch {
    throw internal(`${what} answered something other than JSON`);
  }
}

/** `body[key]` when it is a list; the items are shown as they come, escaped by the templates. */
function expectArray<T>(body: unknown, key: string, what: string): T[] {
  const list = (body as Record<string, unknown> | null)?.[key];
  if (!Array.isArray(list)) throw internal(`${what} answered without a "${key}" list`);
  return list as T[];
}

/** The error the registry or the log service answered with; a refused token is the portal's to fix. */
function refusal(what: string, url: string, status: number, text: string): RosterError {
  const request = `GET ${new URL(url).pathname}`;
  const error = errorFromAnswer({ status, body: text, from: what, request });
  const said = error.code === 'REGISTRY_ERROR' ? error.message : `${what} answered ${request} with ${error.code}: ${error.message}`;
  if (status === 401 || status === 403) return internal(`${said}: it refused the portal's token; give the portal a token with read scope (ROSTER_TOKEN)`, error);
  return internal(said, error);
}

function describe(error: unknown, timeoutMs: number): string {
  const err = error as { name?: string; code?: string; message?: string };
  if (err.name === 'TimeoutError' || err.code === 'UND_ERR_CONNECT_TIMEOUT') return `no answer within ${timeoutMs} ms`;
  return err.code ?? err.message ?? String(error);
}
