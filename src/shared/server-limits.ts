// The bounds every Roster HTTP server built on node:http puts on its clients: how long a request
// may take to send its headers and its whole body, how long an idle keep-alive connection stays
// open, and how many connections it holds at once. Node's own defaults hold a request that sends
// a byte at a time for minutes, and take any number of connections.
import type { Server } from 'node:http';
import type { ServerOptions } from 'node:https';
import { z } from 'zod';
import { durationMs, wholeNumber } from './options.js';

export interface ServerLimits {
  /** Connections held at once; a connection beyond it is closed as soon as it is accepted. */
  maxConnections: number;
  /** How long a client may take to send a request's headers; then 408 and the connection is closed. */
  headersTimeoutMs: number;
  /** How long a client may take to send a whole request, headers and body; then 408 and closed. */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open waiting for the next request. */
  keepAliveTimeoutMs: number;
}

/** Documented in docs/operations.md ("Server limits"). */
export const DEFAULT_SERVER_LIMITS: Readonly<ServerLimits> = Object.freeze({
  maxConnections: 1_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
});

/** The `server` option of startService and the demo services: any limit left out keeps its default. */
export const serverLimitsSchema = z
  .strictObject(
    {
      maxConnections: wholeNumber(1).default(DEFAULT_SERVER_LIMITS.maxConnections),
      headersTimeoutMs: durationMs(1).default(DEFAULT_SERVER_LIMITS.headersTimeoutMs),
      requestTimeoutMs: durationMs(1).default(DEFAULT_SERVER_LIMITS.requestTimeoutMs),
      keepAliveTimeoutMs: durationMs(1).default(DEFAULT_SERVER_LIMITS.keepAliveTimeoutMs),
    },
    { error: 'an object: { maxConnections?, headersTimeoutMs?, requestTimeoutMs?, keepAliveTimeoutMs? }' },
  )
  // Node refuses a headers timeout longer than the request's: the headers are part of the request.
  .refine((limits) => limits.headersTimeoutMs <= limits.requestTimeoutMs, {
    message: 'at most requestTimeoutMs (the headers are part of the request)',
    path: ['headersTimeoutMs'],
  })
  .prefault({});

export type ServerLimitsInput = z.input<typeof serverLimitsSchema>;

/**
 * What node:http and node:https take at creation. Node looks for overdue requests every
 * `connectionsCheckingInterval` (30 s by default, which would stretch a 10 s timeout to 40 s):
 * here a quarter of the shorter timeout, between 10 ms and 1 s.
 */
export function serverOptions(limits: ServerLimits): Pick<ServerOptions, 'headersTimeout' | 'requestTimeout' | 'keepAliveTimeout' | 'connectionsCheckingInterval'> {
  const checkEvery = Math.min(1_000, Math.max(10, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4)));
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: checkEvery,
  };
}

/** The connection cap, which is set on the server once created. */
export function capConnections<T extends Server>(server: T, limits: ServerLimits): T {
  server.maxConnections = limits.maxConnections;
  return server;
}
