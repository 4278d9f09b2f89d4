// Turns anything thrown while serving a request into Roster's `{ code, message }` body.
import type { FastifyError } from 'fastify';
import { RosterError } from '../protocol/errors.js';

const FASTIFY_CODES: Record<string, () => RosterError> = {
  FST_ERR_CTP_INVALID_JSON_BODY: () => new RosterError('INVALID_REQUEST', 'the body is not valid JSON'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new RosterError('INVALID_REQUEST', 'the body is empty; send a JSON object'),
  FST_ERR_CTP_BODY_TOO_LARGE: () => new RosterError('PAYLOAD_TOO_LARGE', 'the body is too large'),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () =>
    new RosterError('UNSUPPORTED_MEDIA_TYPE', 'unsupported Content-Type; send application/json'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new RosterError('INVALID_REQUEST', 'Content-Length does not match the body'),
};

/** The RosterError a failed request answers with; `internal` is true for our own bugs. */
export function toRosterError(error: unknown): { error: RosterError; internal: boolean } {
  if (error instanceof RosterError) return { error, internal: false };
  const fastifyError = error as FastifyError;
  const known = fastifyError?.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (known) return { error: known(), internal: false };
  if (fastifyError?.statusCode && fastifyError.statusCode < 500) {
    return { error: new RosterError('INVALID_REQUEST', fastifyError.message), internal: false };
  }
  return { error: new RosterError('INTERNAL', 'the server failed to handle this request; see its log'), internal: true };
}
