// HTTP to the registry, with failover: a request that cannot reach one registry URL tries the
// next, and the client sticks to the URL that answered.
import { Agent, request } from 'undici';
import { errorFromAnswer, registryUnreachable, type RosterError } from '../protocol/errors.js';
import { trustingCa } from '../shared/exchange.js';

export interface Answer {
  /** The registry base URL that answered. */
  url: string;
  status: number;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  body: unknown;
}

export interface SendOptions {
  json?: unknown;
  /** Raw body (the course's DELETE sends the URL as text/plain). */
  text?: string;
  contentType?: string;
}

export interface RegistryHttpOptions {
  urls: readonly string[];
  timeoutMs: number;
  /** Sent as `Authorization: Bearer` on every request; null sends none. */
  token: string | null;
  /** A CA (PEM) to trust besides the public ones, for an https:// registry. */
  ca: string | null;
}

export class RegistryHttp {
  readonly #urls: readonly string[];
  readonly #timeoutMs: number;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #ca: string | null;
  #current = 0;
  // Our own agent: the global one may belong to another undici version, and close() frees sockets.
  #agent: Agent | null = null;

  constructor(options: RegistryHttpOptions) {
    this.#urls = options.urls;
    this.#timeoutMs = options.timeoutMs;
    this.#headers = Object.freeze(authorization(options.token));
    this.#ca = options.ca;
  }

  /** The registry URL requests go to first. */
  get current(): string {
    return this.#urls[this.#current] as string;
  }

  /** Sends to the current registry, failing over on transport errors; HTTP errors are answers. */
  async send(method: string, path: string, options: SendOptions = {}): Promise<Answer> {
    const failures: string[] = [];
    const errors: unknown[] = [];
    for (let i = 0; i < this.#urls.length; i++) {
      const index = (this.#current + i) % this.#urls.length;
      const base = this.#urls[index] as string;
      try {
        const answer = await this.#once(base, method, path, options);
        this.#current = index;
        return answer;
      } catch (error) {
        failures.push(`${base}: ${describeTransportError(error, this.#timeoutMs)}`);
        errors.push(error);
      }
    }
    throw unreachable(failures, errors);
  }

  /** Frees idle sockets; a later request opens new ones. */
  async close(): Promise<void> {
    const agent = this.#agent;
    this.#agent = null;
    await agent?.close();
  }

  async #once(base: string, method: string, path: string, options: SendOptions): Promise<Answer> {
    const { body, contentType } = encode(options);
    const response = await request(base + path, {
      method: method as 'GET',
      body,
      headers: contentType ? { ...this.#headers, 'content-type': contentType } : this.#headers,
      dispatcher: this.#dispatcher(),
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
      signal: AbortSignal.timeout(this.#timeoutMs),
    });
    const text = await response.body.text();
    return { url: base, status: response.statusCode, text, body: parseJson(text) };
  }

  #dispatcher(): Agent {
    this.#agent ??= new Agent({ connect: { timeout: this.#timeoutMs, ...trustingCa(this.#ca ?? undefined) }, keepAliveTimeout: 4_000 });
    return this.#agent;
  }
}

/** The header that carries the token, or none. */
export function authorization(token: string | null): Record<string, string> {
  return token === null ? {} : { authorization: `Bearer ${token}` };
}

function encode(options: SendOptions): { body: string | undefined; contentType: string | undefined } {
  if (options.json !== undefined) return { body: JSON.stringify(options.json), contentType: options.contentType ?? 'application/json' };
  if (options.text !== undefined) return { body: options.text, contentType: options.contentType ?? 'text/plain' };
  return { body: undefined, contentType: undefined };
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function describeTransportError(error: unknown, timeoutMs: number): string {
  const err = error as { name?: string; code?: string; message?: string; cause?: { code?: string } };
  if (err.name === 'TimeoutError' || err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_CONNECT_TIMEOUT') {
    return `no answer within ${timeoutMs} ms`;
  }
  return err.code ?? err.cause?.code ?? err.message ?? String(error);
}

/** The transport errors, one per URL, are its cause: whoever retries can tell a registry that is down from one it cannot trust. */
function unreachable(failures: string[], errors: unknown[]): RosterError {
  const where = failures.length === 1 ? `at ${failures[0]}` : `at any of its URLs (${failures.join('; ')})`;
  return registryUnreachable(
    `cannot reach the Roster registry ${where}: start it (\`roster registry\`) or set ROSTER_REGISTRY_URL to its address`,
    new AggregateError(errors, 'no registry URL answered'),
  );
}

/** Returns the answer's body when its status is allowed; otherwise the registry's error, rebuilt. */
export function expectStatus(answer: Answer, allowed: readonly number[]): unknown {
  if (allowed.includes(answer.status)) return answer.body;
  throw answerError(answer);
}

export function answerError(answer: Answer): RosterError {
  return errorFromAnswer({ status: answer.status, body: answer.text, from: `registry at ${answer.url}` });
}
