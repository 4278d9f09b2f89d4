// The wire format of the Go course's registry (see docs/protocol.md).
// Key names are the Go field names; Roster adds keys only where a Go decoder ignores them.

/** Body of `POST /services` as the course's Go client sends it. */
export interface CourseRegistration {
  ServiceName: string;
  ServiceURL: string;
  RequiredServices: string[];
  ServiceUpdateURL: string;
  HeartbeatURL: string;
}

/** One entry of a patch: a service instance, by name and URL. */
export interface PatchEntry {
  Name: string;
  URL: string;
}

/**
 * Body the registry POSTs to a service's update URL.
 * `Revision` and `PrevRevision` are Roster's additions: the registry revision of the change,
 * and the revision of the patch sent before it to the same receiver (0 for the first one).
 * The course's registry sends neither, and may send `null` for an empty list.
 */
export interface Patch {
  Added: PatchEntry[];
  Removed: PatchEntry[];
  Revision?: number;
  PrevRevision?: number;
}

/** The course's conventions: update and heartbeat URLs hang off the service URL. */
export const COURSE_UPDATE_PATH = '/services';
export const COURSE_HEARTBEAT_PATH = '/heartbeat';
