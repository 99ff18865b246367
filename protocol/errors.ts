/**
 * The one error shape on the wire, and the closed list of codes.
 * Filesystem failures keep Node's errno codes so callers can branch on them
 * exactly as they would on a local `fs` error.
 */

/** errno codes passed through from the agent's filesystem calls. */
export const ERRNO_CODES = [
  'ENOENT',
  'EACCES',
  'EPERM',
  'EEXIST',
  'ENOTDIR',
  'EISDIR',
  'ENOTEMPTY',
  'ELOOP',
  'ENAMETOOLONG',
  'EINVAL',
  'EXDEV',
  'ENOSPC',
  'EDQUOT',
  'EROFS',
  'EBUSY',
  'EIO',
  'EMFILE',
  'ENFILE',
  'ETXTBSY',
  'EFBIG',
  'ESTALE',
  'EAGAIN',
  'ENOTSUP',
  'EOVERFLOW',
] as const;

/** Codes that are not errno values. */
export const PROTOCOL_CODES = [
  /** A frame that is not valid msgpack or not one of the known frames. */
  'PROTOCOL',
  /** Hello without the right token. */
  'UNAUTHORIZED',
  /** Client and agent speak different protocol versions. */
  'VERSION_MISMATCH',
  /** No such method. */
  'UNKNOWN_METHOD',
  /** Params failed validation; `details.issues` says which field and why. */
  'INVALID_PARAMS',
  /** A frame or value over a limit. */
  'TOO_LARGE',
  /** Too many requests in flight on this connection. */
  'BUSY',
  /** The caller cancelled. */
  'CANCELLED',
  /** A time limit ran out (client timeoutMs or a walk's time limit). */
  'TIMEOUT',
  /** The operation is not available here (e.g. a scheduler that is not installed). */
  'UNSUPPORTED',
  /** A scheduler command failed; `details` has its argv, exit code and stderr. */
  'SCHEDULER',
  /** A named non-file resource (job, upload handle, env) does not exist. */
  'NOT_FOUND',
  /** The resource is in a state that forbids the operation. */
  'CONFLICT',
  /** The agent is shutting down and takes no new work. */
  'SHUTTING_DOWN',
  /** A bug in the agent. `details` may help a bug report. */
  'INTERNAL',
] as const;

export type ErrnoCode = (typeof ERRNO_CODES)[number];
export type ProtocolCode = (typeof PROTOCOL_CODES)[number];
export type ErrorCode = ErrnoCode | ProtocolCode;

const ALL_CODES: ReadonlySet<string> = new Set<string>([...ERRNO_CODES, ...PROTOCOL_CODES]);
const ERRNO_SET: ReadonlySet<string> = new Set<string>(ERRNO_CODES);

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && ALL_CODES.has(code);
}

export function isErrnoCode(code: unknown): code is ErrnoCode {
  return typeof code === 'string' && ERRNO_SET.has(code);
}

/** The wire shape of every error. */
export interface WireError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/**
 * An error that already carries a wire code. Thrown by handlers (and by the
 * codec for bad frames) so the session can answer with the right code.
 */
export class ProtocolError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
    this.details = details;
  }
  toWire(): WireError {
    return this.details ? { code: this.code, message: this.message, details: this.details } : { code: this.code, message: this.message };
  }
}
