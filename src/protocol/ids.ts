import { createHash } from 'node:crypto';

/** An instance's id: stable for its URL, so re-registering the same URL keeps it. */
export function instanceId(url: string): string {
  return createHash('sha256').update(url).digest('base64url').slice(0, 16);
}
