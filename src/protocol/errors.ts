// One error class for all of Roster, with stable string codes, and one factory per condition:
// a message is written once, here, and a new meaning gets a new code.
// Errors cross HTTP as `{ code, message }`; `errorFromAnswer` turns them back into RosterError.

export const ErrorCodes = {
  INVALID_REQUEST: { status: 400, retryable: false },
  UNAUTHORIZED: { status: 401, retryable: false },
  BAD_SIGNATURE: { status: 401, retryable: false },
  FORBIDDEN: { status: 403, retryable: false },
  NOT_OWNER: { status: 409, retryable: false },
  URL_NOT_ALLOWED: { status: 422, retryable: false },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false },
  URI_TOO_LONG: { status: 414, retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false },
  LIMIT_REACHED: { status: 429, retryable: true },
  RATE_LIMITED: { status: 429, retryable: true },
  NOT_FOUND: { status: 404, retryable: false },
  INSTANCE_NOT_FOUND: { status: 404, retryable: false },
  SERVICE_NOT_FOUND: { status: 404, retryable: false },
  METHOD_NOT_ALLOWED: { status: 405, retryable: false },
  NOT_TTL_INSTANCE: { status: 409, retryable: false },
  REGISTRY_STOPPING: { status: 503, retryable: true },
  NOT_LEADER: { status: 503, retryable: true },
  STORE_CLOSED: { status: 503, retryable: true },
  NO_LEADER: { status: 503, retryable: true },
  NO_PROVIDER: { status: 503, retryable: true },
  REGISTRY_UNREACHABLE: { status: 503, retryable: true },
  ETCD_UNREACHABLE: { status: 503, retryable: true },
  REGISTRY_ERROR: { status: 502, retryable: true },
  CLIENT_CLOSED: { status: 500, retryable: false },
  INTERNAL: { status: 500, retryable: true },
  INVALID_OPTION: { status: 500, retryable: false },
  ADDRESS_IN_USE: { status: 500, retryable: false },
  ADDRESS_NOT_AVAILABLE: { status: 500, retryable: false },
  SCHEMA_TOO_NEW: { status: 500, retryable: false },
  STORE_DAMAGED: { status: 500, retryable: false },
  PART_NOT_READY: { status: 503, retryable: true },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class RosterError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RosterError';
    this.code = code;
    this.status = ErrorCodes[code].status;
    this.retryable = ErrorCodes[code].retryable;
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ErrorCodes, value);
}

// ---- requests ----

/** A request that breaks a rule; the message names the field and the rule. */
export function invalidRequest(message: string): RosterError {
  return new RosterError('INVALID_REQUEST', message);
}

export function invalidJson(detail?: string): RosterError {
  return new RosterError('INVALID_REQUEST', `the body is not valid JSON${detail ? ` (${detail})` : ''}`);
}

export function emptyBody(): RosterError {
  return new RosterError('INVALID_REQUEST', 'the body is empty; send a JSON object');
}

/**
 * `limitBytes` tells the client how much to cut; `what` is too large: the body, a log message;
 * `limit` names the option under `limits` that sets the bound, when an operator can raise it.
 */
export function payloadTooLarge(limitBytes?: number, what = 'the body', limit?: string): RosterError {
  const message = limitBytes === undefined ? `${what} is too large` : `${what} is larger than ${limitBytes} bytes`;
  return new RosterError('PAYLOAD_TOO_LARGE', limit === undefined ? message : `${message} (the limit "${limit}"; option limits.${limit}, see docs/operations.md)`);
}

/**
 * A bound on a resource was reached; nothing changed. `limit` is the option's name under
 * `limits` (docs/operations.md), `what` says what is full.
 */
export function limitReached(limit: string, value: number, what: string): RosterError {
  return new RosterError('LIMIT_REACHED', `${what}: the limit "${limit}" (${value}) is reached; nothing was changed. An operator can raise it (option limits.${limit}, see docs/operations.md)`);
}

/** Too many writes from one caller in a window; `retryAfterSeconds` is also sent as Retry-After. */
/** `writer`: whom the writes were counted against ('credential "alice"', "source address 10.0.0.7"). */
export function rateLimited(limit: number, windowMs: number, retryAfterSeconds: number, writer: string): RosterError {
  return new RosterError('RATE_LIMITED', `too many writes: at most ${limit} per ${windowMs} ms for ${writer} (limits.writesPerWindow); retry in ${retryAfterSeconds} s`);
}

export function unsupportedMediaType(message = 'unsupported Content-Type; send application/json'): RosterError {
  return new RosterError('UNSUPPORTED_MEDIA_TYPE', message);
}

export function routeNotFound(method: string, path: string, hint = ''): RosterError {
  return new RosterError('NOT_FOUND', `no route ${method} ${path}${hint}`);
}

/** Something other than a route, an instance or a service is missing (a student, a switched-off API). */
export function uriTooLong(): RosterError {
  return new RosterError('URI_TOO_LONG', 'the path is too long: a path segment is longer than this server takes');
}

export function notFound(message: string): RosterError {
  return new RosterError('NOT_FOUND', message);
}

export function methodNotAllowed(message: string): RosterError {
  return new RosterError('METHOD_NOT_ALLOWED', message);
}

// ---- credentials ----

export function unauthorized(message: string): RosterError {
  return new RosterError('UNAUTHORIZED', message);
}

export function forbidden(message: string): RosterError {
  return new RosterError('FORBIDDEN', message);
}

export function badSignature(message: string): RosterError {
  return new RosterError('BAD_SIGNATURE', message);
}

export function notOwner(url: string, owner: string | null, caller: string): RosterError {
  return new RosterError('NOT_OWNER', `instance ${url} belongs to "${owner}"; "${caller}" may not change or remove it — only its owner or an admin token may`);
}

/** `advice` says how to register an allowed URL or widen the policy. */
export function urlNotAllowed(what: string, url: string, advice: string): RosterError {
  return new RosterError('URL_NOT_ALLOWED', `the ${what} ${url} is not allowed: ${advice}`);
}

// ---- the catalog ----

export function instanceNotFound(id: string): RosterError {
  return new RosterError('INSTANCE_NOT_FOUND', `no instance with id "${id}" is registered (it may have expired: register again)`);
}

export function instanceNotFoundAt(url: string): RosterError {
  return new RosterError('INSTANCE_NOT_FOUND', `no instance is registered at ${url}`);
}

export function serviceNotFound(name: string): RosterError {
  return new RosterError('SERVICE_NOT_FOUND', `no service "${name}" is registered or required`);
}

/** Neither registered nor required by anything: `advice` says where to look. */
export function unknownService(name: string, advice: string): RosterError {
  return new RosterError('SERVICE_NOT_FOUND', `no service "${name}" is registered or required; ${advice}`);
}

export function notTtlInstance(url: string, heartbeatUrl: string | null): RosterError {
  return new RosterError('NOT_TTL_INSTANCE', `instance ${url} is health-checked through ${heartbeatUrl}; renewals are for instances registered without a heartbeatUrl`);
}

// ---- availability ----

export function registryStopping(): RosterError {
  return new RosterError('REGISTRY_STOPPING', 'the registry is shutting down; retry against another registry node or after it restarts');
}

/** Cluster mode: this node lost the leadership, so its write was refused. */
export function notLeader(): RosterError {
  return new RosterError('NOT_LEADER', 'this registry node is no longer the leader; its write was refused: retry, and it goes to the new leader');
}

/** Cluster mode: no node is the leader right now (for a few seconds after one died). */
export function noLeader(message = 'this registry node is not the leader and none is elected yet; retry in a few seconds'): RosterError {
  return new RosterError('NO_LEADER', message);
}

/** `what` names the store: "the registry store", "the log store". */
export function storeClosed(what: string): RosterError {
  return new RosterError('STORE_CLOSED', `${what} is closed: it is shutting down`);
}

export function noProvider(message: string, cause?: unknown): RosterError {
  return new RosterError('NO_PROVIDER', message, cause === undefined ? undefined : { cause });
}

export function registryUnreachable(message: string, cause?: unknown): RosterError {
  return new RosterError('REGISTRY_UNREACHABLE', message, cause === undefined ? undefined : { cause });
}

/** A registry (or a service) answered something Roster does not understand. */
export function registryError(message: string): RosterError {
  return new RosterError('REGISTRY_ERROR', message);
}

export function etcdUnreachable(endpoints: readonly string[], cause: Error): RosterError {
  return new RosterError('ETCD_UNREACHABLE', `cannot reach etcd at ${endpoints.join(', ')}: ${cause.message}; start etcd or fix --etcd-endpoints`, { cause });
}

/** `what` names the method called: "register()". */
export function clientClosed(what: string): RosterError {
  return new RosterError('CLIENT_CLOSED', `${what}: this client is closed; create a new one`);
}

/** register() was still waiting for the registry when `by` ("deregister()", "close()") stopped it. */
export function registrationCancelled(by: string): RosterError {
  return new RosterError('CLIENT_CLOSED', `register(): ${by} was called while waiting for the registry; nothing is registered`);
}

/** Our own bug or a dependency's; the message says where to look. */
export function internal(message: string, cause?: unknown): RosterError {
  return new RosterError('INTERNAL', message, cause === undefined ? undefined : { cause });
}

// ---- starting up ----

export function invalidOption(name: string, expected: string): RosterError {
  return new RosterError('INVALID_OPTION', `option "${name}" must be ${expected}`);
}

/** An option `owner` does not take, a misspelling most often: the message lists the ones it knows. */
export function unknownOption(name: string, owner: string, known: readonly string[]): RosterError {
  return new RosterError('INVALID_OPTION', `option "${name}" is not an option of ${owner}; known: ${known.join(', ') || 'none'}`);
}

/** A command-line argument or environment variable: "--registry must be an http:// or https:// URL". */
export function invalidArgument(name: string, expected: string): RosterError {
  return new RosterError('INVALID_OPTION', `${name} must be ${expected}`);
}

/** The same error, with what the reader can do about it after its message. */
export function withAdvice(error: RosterError, advice: string): RosterError {
  return new RosterError(error.code, `${error.message}; ${advice}`, { cause: error });
}

/** A file given in configuration (a tokens file, a token file) holds something unusable. */
export function invalidConfigFile(message: string, cause?: unknown): RosterError {
  return new RosterError('INVALID_OPTION', message, cause === undefined ? undefined : { cause });
}

export function unreadableFile(option: string, path: string, cause: unknown, kind = 'a file'): RosterError {
  return new RosterError('INVALID_OPTION', `option "${option}" names ${kind} that cannot be read: ${path} (${(cause as Error).message})`, { cause });
}

/** `how` says what to do: "stop whatever holds it, or choose another port with --port". */
export function addressInUse(address: { port: number; host?: string }, how: string, cause?: unknown): RosterError {
  const on = address.host === undefined ? '' : ` on ${address.host}`;
  return new RosterError('ADDRESS_IN_USE', `port ${address.port} is already in use${on}: ${how}`, cause === undefined ? undefined : { cause });
}

/** A port below 1024 without the privilege to listen on it. */
export function portNotAllowed(address: { port: number; host: string }, how: string, cause?: unknown): RosterError {
  return addressNotAvailable(`not allowed to listen on port ${address.port} on ${address.host}: ${how}`, cause);
}

/** The host is not an address of this machine, or the port needs privileges this process lacks. */
function addressNotAvailable(message: string, cause?: unknown): RosterError {
  return new RosterError('ADDRESS_NOT_AVAILABLE', message, cause === undefined ? undefined : { cause });
}

export function hostNotAvailable(host: string, option: string, cause?: unknown): RosterError {
  return addressNotAvailable(`cannot listen on host "${host}": it is not an address of this machine; choose another with ${option}`, cause);
}

/** Data written by a newer Roster; `advice` says what to do. */
export function schemaTooNew(file: string, version: number, advice: string): RosterError {
  return new RosterError('SCHEMA_TOO_NEW', `${file} was written by a newer Roster (schema ${version}); ${advice}`);
}

/** `roster up`: a part it started did not become ready (listening, or registered and passing) in time. */
export function partNotReady(part: string, waitedMs: number): RosterError {
  return new RosterError('PART_NOT_READY', `${part} did not become ready within ${waitedMs / 1000} s`);
}

/** A persisted row that does not read back as what was written: refused, never skipped. */
export function storeDamaged(store: string, key: string, problem: string): RosterError {
  return new RosterError('STORE_DAMAGED', `${store} holds a damaged row at ${key}: ${problem}; repair or remove it, or choose another data directory`);
}

/**
 * A database found damaged at start (emptied, a table gone, corrupt pages, a row that does not
 * parse): refused, never taken as an empty start. `remedy` names the option that starts afresh.
 */
export function damagedState(file: string, problem: string, remedy: string): RosterError {
  return new RosterError('STORE_DAMAGED', `${file} is damaged: ${problem}. Restore it from a backup, or start afresh with ${remedy}, which moves the damaged file aside (never deletes it)`);
}

/** Throws INVALID_OPTION naming the option when `ok` is false. */
export function checkOption(ok: boolean, name: string, expected: string): void {
  if (!ok) throw invalidOption(name, expected);
}

// ---- across HTTP ----

/** What an HTTP answer said: its status and its body, parsed or as text. */
export interface ErrorAnswer {
  status: number;
  body: unknown;
  /** Who answered, for an answer without a Roster error: "the registry at http://…". */
  from: string;
  /** What was asked: "GET /v1/watch". */
  request?: string;
  /** Said after the rest, for an answer without a Roster error: " (a registry without the watch stream?)". */
  hint?: string;
}

/**
 * The RosterError an HTTP answer carries: its `{ code, message }` when the code is one of ours;
 * otherwise REGISTRY_ERROR naming who answered, the status and the start of the body.
 */
export function errorFromAnswer({ status, body, from, request, hint = '' }: ErrorAnswer): RosterError {
  const parsed = typeof body === 'string' ? parseOrUndefined(body) : body;
  const { code, message } = (parsed ?? {}) as { code?: unknown; message?: unknown };
  if (isErrorCode(code) && typeof message === 'string') return new RosterError(code, message);
  const detail = typeof message === 'string' ? message : typeof body === 'string' ? body.trim().slice(0, 300) : '';
  const asked = request ? `${request} with ` : '';
  return registryError(`${from} answered ${asked}HTTP ${status}${detail ? `: ${detail}` : ''}${hint}`);
}

function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** An integration's client is built when the app listens (no `url` given); `what` was used before that. */
export function clientNotListening(what: string): RosterError {
  return new RosterError('CLIENT_CLOSED', `${what}: the app does not listen yet, and its Roster client is built when it does; give the \`url\` option to build it at once`);
}
