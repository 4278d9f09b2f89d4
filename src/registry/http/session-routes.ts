// Session liveness over HTTP (docs/api.md, "Sessions"): GET /v1/instances/{id}/session is a
// response kept open (NDJSON) on which the registry writes a ping every sessionPingMs; the client
// answers with POST /v1/instances/{id}/session/ping. A closed stream (the process died) or
// unanswered pings (it hangs) turn the instance critical (registry/health/sessions.ts).
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { invalidRequest } from '../../protocol/errors.js';
import { parseOrThrow } from '../../protocol/validation.js';
import type { RegistryApi, SessionHost } from '../registry-api.js';
import { callerOf } from './access-guard.js';

const idParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'is not an instance id') });
const pingQuery = z.object({ token: z.string().regex(/^\d{1,15}$/, 'must be the token of the session stream').transform(Number).optional() });

// Owner or admin only: the register scope, and the registry checks the owner. Not counted as
// writes: a session pings every second for as long as it lives.
const SESSION = { config: { access: 'register' } } as const;

/**
 * Unread bytes a session stream may hold before its reader counts as hung. Pings are a few
 * dozen bytes: a reader that leaves this many untaken has stopped reading.
 */
export const SESSION_BACKLOG_BYTES = 16 * 1024;

export function sessionRoutes(registry: RegistryApi) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    const open = new Set<ServerResponse>();

    app.get('/instances/:id/session', SESSION, async (request, reply) => {
      const { id } = parseOrThrow(idParams, request.params, 'path');
      const sessions = sessionsOf(registry);
      const res = reply.raw;
      // Opened before the stream starts, so that a refusal is an ordinary JSON error.
      const token = sessions.open(id, callerOf(request), {
        ping: (answer) => writePing(res, answer),
        cut: () => res.destroy(),
      });
      reply.hijack();
      open.add(res);
      res.on('close', () => {
        open.delete(res);
        sessions.closed(id, token);
      });
      res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' });
      const { sessionPingMs, sessionStallMs, sessionGraceMs } = registry.options;
      res.write(`${JSON.stringify({ type: 'open', token, pingMs: sessionPingMs, stallMs: sessionStallMs, graceMs: sessionGraceMs })}\n`);
    });

    app.post('/instances/:id/session/ping', SESSION, async (request) => {
      const { id } = parseOrThrow(idParams, request.params, 'path');
      const { token } = parseOrThrow(pingQuery, request.query, 'query');
      return { connected: sessionsOf(registry).ping(id, callerOf(request), token) };
    });

    // Open streams never end by themselves: end them, or closing the server would wait forever.
    app.addHook('preClose', async () => {
      for (const res of [...open]) res.destroy();
    });
  };
}

function sessionsOf(registry: RegistryApi): SessionHost {
  if (!registry.sessions) throw invalidRequest("this registry node holds no sessions (cluster mode): register with liveness 'probe'");
  return registry.sessions;
}

// A client answers every ping that does not say `"answer":false` (clients older than that field
// answer them all).
const PING = '{"type":"ping"}\n';
const QUIET_PING = '{"type":"ping","answer":false}\n';

/** False when the reader has left too much untaken: it hangs. */
function writePing(res: ServerResponse, answer: boolean): boolean {
  if (res.destroyed || res.writableLength > SESSION_BACKLOG_BYTES) return false;
  res.write(answer ? PING : QUIET_PING);
  return true;
}
