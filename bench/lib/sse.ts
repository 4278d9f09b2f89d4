// A minimal Server-Sent Events client for GET /v1/watch: one socket per watcher, like a real
// watcher process would hold, with the arrival time of every event.
import { request, type ClientRequest } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Scope } from './scope.js';

export interface SseEvent {
  event: string;
  data: string;
  /** performance.now() when the chunk that completed the event arrived. */
  at: number;
}

/** The registry has no watch stream (it answered 404). */
export class WatchUnavailableError extends Error {}

/**
 * Opens `url` as an event stream and resolves once the first event (the snapshot) arrived;
 * calls `onEvent` for every event, the first included. Closed when the scope ends.
 */
export function openEventStream(scope: Scope, url: string, onEvent: (event: SseEvent) => void, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let req: ClientRequest | undefined;
    const timer = setTimeout(() => {
      req?.destroy();
      reject(new Error(`${url}: no first event within ${timeoutMs} ms`));
    }, timeoutMs);
    const settle = (error?: Error): void => {
      clearTimeout(timer);
      if (error) reject(error);
      else resolve();
    };
    req = request(url, { agent: false, headers: { ...headers, accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        req?.destroy();
        const Failure = res.statusCode === 404 ? WatchUnavailableError : Error;
        return settle(new Failure(`GET ${url} answered ${res.statusCode}`));
      }
      let buffer = '';
      let first = true;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const at = performance.now();
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = parseBlock(block, at);
          if (!event) continue;
          onEvent(event);
          if (first) {
            first = false;
            settle();
          }
        }
      });
    });
    req.on('error', (error) => settle(error));
    req.end();
    scope.defer(() => req?.destroy());
  });
}

function parseBlock(block: string, at: number): SseEvent | null {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return data.length === 0 ? null : { event, data: data.join('\n'), at };
}
