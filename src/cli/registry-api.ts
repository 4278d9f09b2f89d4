// What the operator commands (ls, watch, deps, deregister) share: where the registry is, how to
// ask it, which exit code a script sees, and how text is laid out and coloured.
import { readFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { Agent, request } from 'undici';
import { RosterError, errorFromAnswer, invalidArgument, registryError, registryUnreachable, withAdvice, type ErrorCode } from '../protocol/errors.js';
import { httpUrl } from '../protocol/validation.js';
import { DEFAULT_REGISTRY_URL } from '../client/options.js';
import { DEFAULT_START_OPTIONS } from '../registry/options.js';
import { readCaFile, trustingCa } from '../shared/exchange.js';
import { terminalSafe, terminalSafeDeep, terminalSafeJson } from './terminal-text.js';
import { ignoreOutputErrorsAfterHangup } from '../shared/hangup.js';
import { registryRoot, rosterUsageError } from './options.js';

/** Exit codes a script can rely on. */
export const EXIT = {
  ok: 0,
  /** The registry answered with an error (an unknown URL or service, …). */
  registryError: 1,
  /** Bad arguments or options. */
  usage: 2,
  /** No registry answered at the URL. */
  unreachable: 3,
} as const;

export { DEFAULT_REGISTRY_URL } from '../client/options.js';
const REQUEST_TIMEOUT_MS = 5_000;

/** The process as a command sees it; tests hand in their own. */
export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown };
  env: Record<string, string | undefined>;
  /** The status the process ends with once its work is done. */
  setExitCode(code: number): void;
  /** Ends at once; for commander's usage errors, which come before any work. */
  exit(code: number): never;
  /** Aborted by Ctrl-C, SIGTERM or SIGHUP: a long-running command stops and exits 0. */
  readonly interrupted: AbortSignal;
}

export interface ApiFlags {
  registry?: string;
  json?: boolean;
  token?: string;
  dataDir?: string;
}

/** A secret to send as `Authorization: Bearer`, and where it came from (for messages). */
export interface Credential {
  token: string;
  source: string;
}

export const DEFAULT_DATA_DIR = DEFAULT_START_OPTIONS.dataDir;

/** The exit code each error ends a command with; any other code is EXIT.registryError. */
const EXIT_BY_CODE: Partial<Record<ErrorCode, number>> = { INVALID_OPTION: EXIT.usage, REGISTRY_UNREACHABLE: EXIT.unreachable };

/** The exit code a RosterError ends a command with. */
export function exitCodeOf(error: RosterError): number {
  return EXIT_BY_CODE[error.code] ?? EXIT.registryError;
}

/** What stderr says: the registry's errors with their code, the command's own (usage, unreachable) without. */
function describeError(error: RosterError): string {
  return EXIT_BY_CODE[error.code] === undefined ? `${error.code}: ${error.message}` : error.message;
}

export function processIo(): CliIo {
  let interrupted: AbortSignal | undefined;
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    setExitCode: (code) => void (process.exitCode = code),
    exit: (code) => process.exit(code),
    // Created on first use only: a listener for SIGINT would stop Ctrl-C from ending short commands.
    get interrupted() {
      interrupted ??= abortOnSignals();
      return interrupted;
    },
  };
}

function abortOnSignals(): AbortSignal {
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals): void => {
    ignoreOutputErrorsAfterHangup(signal);
    controller.abort();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // The terminal was closed: stop as cleanly as on Ctrl-C.
  process.once('SIGHUP', stop);
  return controller.signal;
}

/** Adds --registry, --token, --data-dir and --json, sends commander's output to `io`, and makes usage errors exit 2. */
export function apiCommand(name: string, io: CliIo): Command {
  return new Command(name)
    .option('--registry <url>', `registry URL (default: ROSTER_REGISTRY_URL or ${DEFAULT_REGISTRY_URL})`)
    .option('--token <secret>', 'token sent to the registry (default: ROSTER_TOKEN, else the admin.token of --data-dir for a registry on this machine)')
    .option('--data-dir <dir>', `the registry's data folder, where it keeps admin.token (default ${DEFAULT_DATA_DIR})`)
    .option('--json', 'print JSON instead of text')
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text), outputError: rosterUsageError })
    .exitOverride((error) => io.exit(error.exitCode === 0 ? EXIT.ok : EXIT.usage));
}

/**
 * Runs a command's work, turning what it throws into a message on stderr and an exit code; with
 * --json, into `{ code, message }` on stdout, as a script that asked for JSON reads it.
 */
export async function runCommand(io: CliIo, work: () => Promise<void>, flags: Pick<ApiFlags, 'json'> = {}): Promise<void> {
  try {
    await work();
  } catch (error) {
    const known = error instanceof RosterError;
    if (flags.json) {
      printJson(io, known ? error.toJSON() : { code: 'INTERNAL', message: String((error as Error)?.message ?? error) });
      return io.setExitCode(known ? exitCodeOf(error) : EXIT.registryError);
    }
    // A registry's error may quote what was registered (a URL): shown inert.
    io.stderr.write(`roster: ${known ? terminalSafe(describeError(error)) : String((error as Error)?.stack ?? error)}\n`);
    io.setExitCode(known ? exitCodeOf(error) : EXIT.registryError);
  }
}

/** --registry, else the first of ROSTER_REGISTRY_URL's comma-separated URLs, else localhost:3000. */
export function registryUrl(flags: ApiFlags, env: CliIo['env']): string {
  const fromEnv = env.ROSTER_REGISTRY_URL?.split(',')[0]?.trim();
  const url = flags.registry ?? (fromEnv || DEFAULT_REGISTRY_URL);
  const source = flags.registry !== undefined ? '--registry' : 'ROSTER_REGISTRY_URL';
  if (!httpUrl.safeParse(url).success) throw invalidArgument(source, `an http:// or https:// URL, not "${url}"`);
  return registryRoot(url);
}

/**
 * --token, else ROSTER_TOKEN, else, for a registry on this machine, the admin.token it wrote in
 * its data folder (readable only by the user who runs it); none when there is nothing to send.
 */
export function credential(flags: ApiFlags, env: CliIo['env'], url: string): Credential | undefined {
  if (flags.token !== undefined) return { token: flags.token.trim(), source: '--token' };
  const fromEnv = env.ROSTER_TOKEN?.trim();
  if (fromEnv) return { token: fromEnv, source: 'ROSTER_TOKEN' };
  if (!isThisMachine(new URL(url).hostname)) return undefined;
  const file = join(flags.dataDir ?? DEFAULT_DATA_DIR, 'admin.token');
  const token = readTokenFile(file);
  return token === undefined ? undefined : { token, source: file };
}

function readTokenFile(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    // Missing or not ours to read: the registry's answer will say a token is needed.
    return undefined;
  }
}

/** Loopback, this machine's name, or one of its addresses. */
export function isThisMachine(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare.endsWith('.localhost') || bare === '::1' || /^127\./.test(bare) || bare === hostname().toLowerCase()) return true;
  return Object.values(networkInterfaces()).some((addresses) => (addresses ?? []).some((a) => a.address.toLowerCase() === bare));
}

/** The PEM CA bundle named by ROSTER_TLS_CA, trusted for an https:// registry besides the public CAs. */
export function trustedCa(env: CliIo['env']): string | undefined {
  // An unreadable file is INVALID_OPTION: exit 2.
  return readCaFile(env.ROSTER_TLS_CA?.trim() || undefined, 'ROSTER_TLS_CA');
}

/**
 * Opens the registry API for `work`, and frees its sockets after. For text output every string of
 * the answer is made terminal-safe here (--json output is escaped by printJson instead).
 */
export async function withRegistry<T>(flags: ApiFlags, io: CliIo, work: (api: RegistryCalls) => Promise<T>): Promise<T> {
  const url = registryUrl(flags, io.env);
  const api = new RegistryCalls(url, credential(flags, io.env, url), trustedCa(io.env));
  try {
    const answer = await work(api);
    return flags.json ? answer : terminalSafeDeep(answer);
  } finally {
    await api.close();
  }
}

/** The registry's /v1 API, with its answers mapped to exit codes. */
export class RegistryCalls {
  readonly url: string;
  // Our own agent, closed after the command: idle sockets would keep the process alive.
  readonly #agent: Agent;
  readonly #credential: Credential | undefined;

  constructor(url: string, credential?: Credential, ca?: string) {
    this.url = url;
    this.#credential = credential;
    this.#agent = new Agent({ connect: { timeout: REQUEST_TIMEOUT_MS, ...trustingCa(ca) } });
  }

  async get<T>(path: string): Promise<T> {
    return (await this.#send('GET', path)) as T;
  }

  async delete<T>(path: string): Promise<T> {
    return (await this.#send('DELETE', path)) as T;
  }

  /** PUT with a JSON body. */
  async put<T>(path: string, body: unknown): Promise<T> {
    return (await this.#send('PUT', path, body)) as T;
  }

  close(): Promise<void> {
    return this.#agent.close();
  }

  async #send(method: 'GET' | 'DELETE' | 'PUT', path: string, json?: unknown): Promise<unknown> {
    const response = await request(this.url + path, {
      method,
      dispatcher: this.#agent,
      headers: {
        ...(this.#credential ? { authorization: `Bearer ${this.#credential.token}` } : {}),
        ...(json === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: json === undefined ? undefined : JSON.stringify(json),
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS,
    }).catch((error: unknown) => {
      throw unreachable(this.url, describeTransportError(error));
    });
    const text = await response.body.text();
    const body = parseJson(text);
    if (response.statusCode >= 400) throw explained(this.url, this.#refusal(response.statusCode, text, `${method} ${path}`), this.#credential);
    if (body === undefined) throw registryError(`${this.url} answered ${method} ${path} with something other than JSON: is it a Roster registry?`);
    return body;
  }

  #refusal(status: number, text: string, request: string): RosterError {
    return errorFromAnswer({ status, body: text, from: this.url, request, hint: ': is it a Roster registry?' });
  }
}

/** Exit 3, saying where we looked and how to look elsewhere. */
export function unreachable(url: string, detail: string): RosterError {
  return registryUnreachable(
    `cannot reach the registry at ${url} (${detail}): start it with \`roster registry\`, or point to another with --registry URL or ROSTER_REGISTRY_URL`,
  );
}

/** The registry's error (or the watch stream's) with what an operator can do about it. */
export function explained(url: string, error: RosterError, credential?: Credential): RosterError {
  if (error.code === 'REGISTRY_UNREACHABLE') return unreachable(url, error.cause ? describeTransportError(error.cause) : error.message);
  if (error.status === 401 || error.status === 403) return refused(error, credential);
  return error;
}

/** Says which token was refused (never the secret) and how to give another. */
function refused(error: RosterError, credential: Credential | undefined): RosterError {
  const how = 'give a token with --token <secret> or ROSTER_TOKEN, or, on the registry\'s machine, --data-dir <its data folder> to use its admin.token';
  if (!credential) return withAdvice(error, `no token was sent: ${how}`);
  if (error.status === 403) return withAdvice(error, `the token from ${credential.source} lacks that permission: ${how}`);
  return withAdvice(error, `the token from ${credential.source} was refused: ${how}`);
}

function describeTransportError(error: unknown): string {
  const err = error as { code?: string; message?: string; cause?: { code?: string } };
  if (err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_CONNECT_TIMEOUT') return `no answer within ${REQUEST_TIMEOUT_MS} ms`;
  return err.code ?? err.cause?.code ?? err.message ?? String(error);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${terminalSafeJson(JSON.stringify(value, null, 2))}\n`);
}

// ---- text layout ----

export interface Paint {
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

/** Colours only for a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function paint(io: CliIo): Paint {
  const on = io.stdout.isTTY === true && !io.env.NO_COLOR;
  const style = (open: number, close: number) => (text: string) => (on ? `\u001b[${open}m${text}\u001b[${close}m` : text);
  return { red: style(31, 39), green: style(32, 39), yellow: style(33, 39), dim: style(2, 22), bold: style(1, 22) };
}

/** Health in its colour: green passing, red critical. */
export function paintHealth(colors: Paint, health: string): string {
  return health === 'passing' ? colors.green(health) : colors.red(health);
}

const ANSI = /\u001b\[[0-9;]*m/g;

/** Columns padded to their widest cell (colour codes take no room), two spaces apart. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const width = (text: string): number => text.replace(ANSI, '').length;
  const widths = headers.map((header, column) => Math.max(width(header), ...rows.map((row) => width(row[column] ?? ''))));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, column) => cell + ' '.repeat((widths[column] ?? 0) - width(cell))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].map((text) => `${text}\n`).join('');
}
