// One error class for all of Roster, with stable string codes.
// Errors cross HTTP as `{ code, message }`; the client turns them back into RosterError.

export const ErrorCodes = {
  INVALID_REQUEST: { status: 400, retryable: false },
  UNAUTHORIZED: { status: 401, retryable: false },
  BAD_SIGNATURE: { status: 401, retryable: false },
  FORBIDDEN: { status: 403, retryable: false },
  NOT_OWNER: { status: 409, retryable: false },
  URL_NOT_ALLOWED: { status: 422, retryable: false },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false },
  NOT_FOUND: { status: 404, retryable: false },
  INSTANCE_NOT_FOUND: { status: 404, retryable: false },
  SERVICE_NOT_FOUND: { status: 404, retryable: false },
  METHOD_NOT_ALLOWED: { status: 405, retryable: false },
  NOT_TTL_INSTANCE: { status: 409, retryable: false },
  REGISTRY_STOPPING: { status: 503, retryable: true },
  NO_LEADER: { status: 503, retryable: true },
  NO_PROVIDER: { status: 503, retryable: true },
  REGISTRY_UNREACHABLE: { status: 503, retryable: true },
  REGISTRY_ERROR: { status: 502, retryable: true },
  INTERNAL: { status: 500, retryable: true },
  INVALID_OPTION: { status: 500, retryable: false },
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

  /** Rebuilds an error from an HTTP answer's `{ code, message }` body. */
  static fromBody(body: unknown, status: number): RosterError {
    const { code, message } = (body ?? {}) as { code?: unknown; message?: unknown };
    const known = typeof code === 'string' && code in ErrorCodes;
    const text = typeof message === 'string' ? message : `registry answered HTTP ${status}`;
    return new RosterError(known ? (code as ErrorCode) : 'REGISTRY_ERROR', text);
  }
}

/** Throws INVALID_OPTION naming the option when `ok` is false. */
export function checkOption(ok: boolean, name: string, expected: string): void {
  if (!ok) throw new RosterError('INVALID_OPTION', `option "${name}" must be ${expected}`);
}
