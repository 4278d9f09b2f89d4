// How the notifier reaches a subscriber. The notifier owns ordering, timeouts and retries;
// a channel only carries one patch at a time, so a test or another transport can stand in.

import type { Patch } from '../../protocol/course.js';

export interface NotificationChannel {
  /** Sends one patch to `target` (a subscriber's update URL). Resolves when the target accepted it (2xx); rejects otherwise. Must stop when `signal` aborts. */
  send(target: string, patch: Patch, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}
