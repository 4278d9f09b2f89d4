// What every fuzz suite shares besides its arbitraries: the seed and the number of runs, raw HTTP
// over a socket (so that malformed paths and headers reach the server as written), and the
// checks every answer must pass.
import { connect } from 'node:net';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isErrorCode } from '../../src/protocol/errors.js';

/**
 * A fixed seed by default, so that a failure is reproducible; fast-check prints the seed and the
 * counterexample's path when a property fails. ROSTER_FUZZ_SEED picks another seed,
 * ROSTER_FUZZ_RUNS a longer campaign (runs per property).
 */
export const FUZZ_SEED = integerFromEnv('ROSTER_FUZZ_SEED') ?? 20261201;
const FUZZ_RUNS = integerFromEnv('ROSTER_FUZZ_RUNS');

/**
 * fast-check's parameters for one property: `runs` unless ROSTER_FUZZ_RUNS says otherwise.
 * `examples` run first, every time: the failures the fuzzer found once, kept as regressions.
 */
export function fuzzParameters<T>(runs: number, examples: T[] = []): fc.Parameters<T> {
  return { seed: FUZZ_SEED, numRuns: fuzzRuns(runs), examples };
}

/** The runs a property makes: `runs`, or ROSTER_FUZZ_RUNS. */
export function fuzzRuns(runs: number): number {
  return FUZZ_RUNS ?? runs;
}

/** A plain request, for the examples a property always tries. */
export function plain(method: string, path: string, headers: Array<[string, string]> = [], body = ''): RawRequest {
  return printable({ method, path, headers, body: Buffer.from(body) });
}

/**
 * Paths fastify refuses before routing (they do not decode, or a parameter is over its length):
 * they used to get fastify's own `{ error, code: "FST_ERR_BAD_URL", statusCode }` rather than
 * `{ code, message }` (or the portal's error page).
 */
export function undecodablePaths(prefix: string): string[] {
  return [`${prefix}/%`, `${prefix}/%E0%A4%A`, `${prefix}/${'x'.repeat(200)}`];
}

/** Generous for a long campaign on a loaded machine; the default runs take a few seconds. */
export function fuzzTimeoutMs(defaultMs: number): number {
  return FUZZ_RUNS === undefined ? defaultMs : Math.max(defaultMs, FUZZ_RUNS * 200);
}

function integerFromEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a whole number ≥ 0, not "${raw}"`);
  return value;
}

export interface RawRequest {
  method: string;
  /** Sent as written: it may be anything a socket can carry. */
  path: string;
  headers: ReadonlyArray<readonly [string, string]>;
  body: Uint8Array;
  /** Sent with Transfer-Encoding: chunked (in pieces of a few bytes) instead of a Content-Length. */
  chunked?: boolean;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The bytes of a well-framed HTTP/1.1 request: Host, Content-Length and Connection: close added. */
export function frame(port: number, request: RawRequest): Buffer {
  const lines = [`${request.method} ${request.path} HTTP/1.1`, `host: 127.0.0.1:${port}`];
  for (const [name, value] of request.headers) lines.push(`${name}: ${value}`);
  if (request.chunked) lines.push('transfer-encoding: chunked');
  else if (request.body.length > 0 || request.method === 'POST' || request.method === 'PUT') lines.push(`content-length: ${request.body.length}`);
  lines.push('connection: close', '', '');
  const body = request.chunked ? chunks(request.body, 7) : request.body;
  return Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), body]);
}

/** `body` in chunked transfer coding, `size` bytes a chunk. */
function chunks(body: Uint8Array, size: number): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < body.length; at += size) {
    const piece = body.subarray(at, at + size);
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), Buffer.from(piece), Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

/**
 * Sends `bytes` on a fresh connection and reads the answer until the server closes it. An event
 * stream (which never ends) is taken as answered once its head has arrived. `halfClose` ends our
 * side after the bytes, so that a request cut short meets the end of its input rather than a
 * wait; a node:http server then drops a request it has not answered yet, so well-framed requests
 * keep the connection open (Connection: close makes the server end it).
 */
export function sendBytes(port: number, bytes: Uint8Array, { halfClose = false, timeoutMs = 10_000 } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${timeoutMs} ms; got ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 300))}`));
    }, timeoutMs);
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      const parsed = parseResponse(Buffer.concat(chunks));
      if (parsed) resolve(parsed);
      else reject(new Error(`the server closed the connection without an answer (got ${chunks.length} chunks)`));
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const head = parseHead(Buffer.concat(chunks));
      if (head && head.headers['content-type']?.startsWith('text/event-stream')) finish();
    });
    socket.on('end', finish);
    socket.on('close', finish);
    socket.on('error', (error) => {
      // A reset after a complete answer (the server closed while we still wrote) is an answer.
      if (parseResponse(Buffer.concat(chunks))) return finish();
      clearTimeout(timer);
      reject(error);
    });
    if (halfClose) socket.end(bytes);
    else socket.write(bytes);
  });
}

export function sendRaw(port: number, request: RawRequest): Promise<RawResponse> {
  return sendBytes(port, frame(port, request));
}

interface Head {
  status: number;
  headers: Record<string, string>;
  bodyStart: number;
}

function parseHead(data: Buffer): Head | null {
  // An interim answer (100 Continue) comes before the real one.
  let start = 0;
  while (/^HTTP\/1\.[01] 1\d\d /.test(data.subarray(start, start + 16).toString('latin1'))) {
    const interimEnd = data.indexOf('\r\n\r\n', start);
    if (interimEnd < 0) return null;
    start = interimEnd + 4;
  }
  const end = data.indexOf('\r\n\r\n', start);
  if (end < 0) return null;
  const [statusLine = '', ...lines] = data.subarray(start, end).toString('latin1').split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!status) return null;
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(status[1]), headers, bodyStart: end + 4 };
}

function parseResponse(data: Buffer): RawResponse | null {
  const head = parseHead(data);
  if (!head) return null;
  let body = data.subarray(head.bodyStart);
  if (head.headers['transfer-encoding']?.toLowerCase() === 'chunked') body = dechunk(body);
  else if (head.headers['content-length'] !== undefined) body = body.subarray(0, Number(head.headers['content-length']));
  return { status: head.status, headers: head.headers, body: body.toString('utf8') };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  while (at < data.length) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** What a request and its answer look like in an assertion message. */
export function describe(request: RawRequest, response?: RawResponse): string {
  const text = Buffer.from(request.body).toString('utf8');
  const shown = text.length > 200 ? `${JSON.stringify(text.slice(0, 200))}… (${request.body.length} bytes)` : JSON.stringify(text);
  const sent = `${request.method}${request.chunked ? ' (chunked)' : ''} ${JSON.stringify(request.path.length > 300 ? `${request.path.slice(0, 300)}…` : request.path)} headers=${JSON.stringify(request.headers)} body=${shown}`;
  return response ? `${sent}\n→ ${response.status} ${JSON.stringify(response.body.slice(0, 300))}` : sent;
}

/** Never a 5xx: a bug or an unexpected state, whatever the input. */
export function assertNoServerError(request: RawRequest, response: RawResponse): void {
  assert.ok(response.status < 500, `a 5xx answer to ${describe(request, response)}`);
}

/** A refusal as every Roster JSON API gives one: `{ code, message }` with a code of the catalogue. */
export function assertJsonError(request: RawRequest, response: RawResponse): void {
  // A HEAD answer has no body to check.
  if (request.method === 'HEAD') return;
  assert.match(response.headers['content-type'] ?? '', /^application\/json/, `a ${response.status} without JSON to ${describe(request, response)}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(response.body);
  } catch {
    assert.fail(`a ${response.status} whose body is not JSON to ${describe(request, response)}`);
  }
  const { code, message } = (parsed ?? {}) as { code?: unknown; message?: unknown };
  assert.ok(isErrorCode(code), `a ${response.status} without a Roster error code to ${describe(request, response)}`);
  assert.equal(typeof message, 'string', `a ${response.status} without a message to ${describe(request, response)}`);
}

/** A refusal as the course's protocol gives one: its message as plain text. */
export function assertTextError(request: RawRequest, response: RawResponse): void {
  if (request.method === 'HEAD') return;
  assert.match(response.headers['content-type'] ?? '', /^text\/plain/, `a ${response.status} not in plain text to ${describe(request, response)}`);
  assert.ok(response.body.trim().length > 0, `a ${response.status} with an empty body to ${describe(request, response)}`);
}

/** The update and heartbeat paths every service built with startService answers itself. */
export const CLIENT_PATHS = ['/services', '/heartbeat'];

/**
 * A refusal from a service's own update or heartbeat path: plain text as the course answers
 * (405, 400 for a bad patch, 413), but `401 BAD_SIGNATURE` as JSON (docs/client.md).
 */
export function assertClientPathRefusal(request: RawRequest, response: RawResponse): void {
  if (response.status === 401) return assertJsonError(request, response);
  assertTextError(request, response);
}

/** Shows a request in fast-check's reports as `describe` does: a long body is cut, not printed whole. */
export function printable<T extends RawRequest>(request: T): T {
  return Object.defineProperty(request, fc.toStringMethod, { value: () => describe(request), enumerable: false });
}

/** The methods fastify routes; any other reaches the not-found handler whatever the path. */
export const ROUTED_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** The path fastify routes a request target by: it stops at `?` and `#` (not at `;`). */
export function pathPart(target: string): string {
  return target.split(/[?#]/)[0] ?? target;
}

/** The path startService's update and heartbeat handlers see: the URL's pathname (`..` resolved). */
export function clientPath(target: string): string | null {
  return URL.canParse(target, 'http://x') ? new URL(target, 'http://x').pathname : null;
}
