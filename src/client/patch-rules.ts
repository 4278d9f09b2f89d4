// What a patch must be before it touches the view, signed or not: provider names that are
// service names, provider URLs that are http(s), bounded lists, a Revision that is a number.
import { z } from 'zod';
import { LIMITS, httpUrl, parseOrThrow, serviceName } from '../protocol/validation.js';
import type { Patch } from '../protocol/index.js';
import { invalidJson } from '../protocol/errors.js';

/** A Revision further than this beyond the last one seen is not believed: the view is read afresh instead. */
export const MAX_REVISION_JUMP = 10_000;

const entry = z.object({ Name: serviceName, URL: httpUrl });
const entries = z.array(entry).max(LIMITS.patchEntries, `must list at most ${LIMITS.patchEntries} entries`).nullish().transform((list) => list ?? []);

const providerPatchSchema = z.object({
  Added: entries,
  Removed: entries,
  Revision: z.int().min(0).optional(),
  PrevRevision: z.int().min(0).optional(),
});

/** Validates a patch, or throws INVALID_REQUEST naming the first bad field ("Added.3.URL"). */
export function parseProviderPatch(body: unknown): Patch {
  return parseOrThrow(providerPatchSchema, body, 'patch');
}

/** Parses a patch's raw body; bad JSON is INVALID_REQUEST like a bad patch. */
export function parseJsonBody(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (error) {
    throw invalidJson((error as Error).message);
  }
}
