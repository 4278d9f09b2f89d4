// The two endpoints the registry calls on a service: the update URL (patches) and the
// heartbeat. They mount on any node HTTP server without owning it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RosterError } from '../protocol/index.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;

export interface HandlerOptions {
  /** Path of the update URL, or null when the client takes no callbacks. */
  updatePath: string | null;
  /** Path of the heartbeat URL, or null in TTL mode. */
  heartbeatPath: string | null;
  applyPatch(body: unknown): void;
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
      handleHeartbeat(req, res, options.isDraining());
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
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (error) {
    return send(res, 400, `invalid JSON: ${(error as Error).message}\n`);
  }
  try {
    options.applyPatch(body);
  } catch (error) {
    if (!(error instanceof RosterError)) throw error;
    return send(res, 400, `${error.message}\n`);
  }
  send(res, 200, '');
}

function handleHeartbeat(req: IncomingMessage, res: ServerResponse, draining: boolean): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
  // 503 while draining: the registry marks us critical before we disappear.
  if (draining) return send(res, 503, 'draining\n');
  send(res, 200, 'ok');
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
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
