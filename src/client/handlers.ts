// The two endpoints the registry calls on a service: the update URL (patches) and the
// heartbeat. They mount on any node HTTP server without owning it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RosterError, SIGNATURE_HEADER, probePayload } from '../protocol/index.js';
import { badSignature } from '../protocol/errors.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;

/** A patch as it arrived: its exact body and its signature header, before anything trusts it. */
export interface ReceivedPatch {
  raw: string;
  signature: string | undefined;
}

/**
 * The verdict on a patch or a probe: accepted, refused with a reason for the 401, or not taken
 * yet (`later`: answered 503, so that the registry sends it again).
 */
export type Verdict = { ok: true } | { ok: false; reason: string; later?: boolean };

export interface HandlerOptions {
  /** Path of the update URL, or null when the client takes no callbacks. */
  updatePath: string | null;
  /** Path of the heartbeat URL, or null in TTL mode. */
  heartbeatPath: string | null;
  /** Checks and applies a patch; throws RosterError INVALID_REQUEST for a bad one. */
  receivePatch(patch: ReceivedPatch): Verdict;
  /** Checks a heartbeat probe's signature over `payload`. */
  checkProbe(signature: string | undefined, payload: string): Verdict;
  isDraining(): boolean;
  bodyLimit?: number;
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/** Returns a handler that answers its two paths and returns false for any other. */
export function createRequestHandler(options: HandlerOptions): RequestHandler {
  const limit = options.bodyLimit ?? BODY_LIMIT_BYTES;
  return async (req, res) => {
    const path = pathOf(req.url);
    if (path !== null && path === options.updatePath) {
      await handleUpdate(req, res, options, limit);
      return true;
    }
    if (path !== null && path === options.heartbeatPath) {
      handleHeartbeat(req, res, options);
      return true;
    }
    return false;
  };
}

/** The path of a URL, or null for an unparsable one. */
export function pathOf(url: string | undefined): string | null {
  if (!url || !URL.canParse(url, 'http://x')) return null;
  return new URL(url, 'http://x').pathname;
}

async function handleUpdate(req: IncomingMessage, res: ServerResponse, options: HandlerOptions, limit: number): Promise<void> {
  if (req.method !== 'POST') return send(res, 405, 'method not allowed: POST a patch here\n', { allow: 'POST' });
  const raw = await readBody(req, limit);
  if (raw === null) return send(res, 413, `patch larger than ${limit} bytes\n`, { connection: 'close' });
  let verdict: Verdict;
  try {
    verdict = options.receivePatch({ raw: raw.toString('utf8'), signature: header(req, SIGNATURE_HEADER) });
  } catch (error) {
    if (!(error instanceof RosterError)) throw error;
    return send(res, 400, `${error.message}\n`);
  }
  if (!verdict.ok && verdict.later) return send(res, 503, `${verdict.reason}\n`, { 'retry-after': '1' });
  if (!verdict.ok) return sendError(res, badSignature(verdict.reason));
  send(res, 200, '');
}

function handleHeartbeat(req: IncomingMessage, res: ServerResponse, options: HandlerOptions): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
  const verdict = options.checkProbe(header(req, SIGNATURE_HEADER), probePayload(req.url ?? '/'));
  if (!verdict.ok) return sendError(res, badSignature(verdict.reason));
  // 503 while draining: the registry marks us critical before we disappear.
  if (options.isDraining()) return send(res, 503, 'draining\n');
  send(res, 200, 'ok');
}

/** One header's value (node joins a repeated one with ", ", which then fails the check as malformed). */
function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}

/** Reads the body, or resolves null as soon as it exceeds `limit` (the rest is discarded). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length']) > limit) {
      req.resume();
      return resolve(null);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else resolve(null);
    });
    req.on('end', () => resolve(size <= limit ? Buffer.concat(chunks) : null));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    ...headers,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** A JSON answer, for the 404 and 500 the client's request listener gives on its own. */
/** A RosterError as every Roster server sends one: its status and `{ code, message }`. */
export function sendError(res: ServerResponse, error: RosterError): void {
  sendJson(res, error.status, error.toJSON());
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
