/**
 * Two kinds of failure, never mixed up:
 *  - RemoteError: the call reached the agent (or was cancelled / timed out on
 *    its way) and failed with a wire code: ENOENT, INVALID_PARAMS, TIMEOUT…
 *  - ConnectionError: the link itself failed, tagged by layer.
 */
import type { ErrorCode, WireError } from '../protocol/index.js';

export class ClustrixError extends Error {
  override name = 'ClustrixError';
}

export class RemoteError extends ClustrixError {
  override name = 'RemoteError';
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  /** Method that failed, e.g. "fs.stat". */
  readonly method: string | undefined;
  constructor(e: WireError, method?: string, options?: { cause?: unknown }) {
    super(e.message, options);
    this.code = e.code;
    this.details = e.details;
    this.method = method;
  }
}

export type ConnectionErrorKind =
  /** Host key unknown or changed. */
  | 'host-key'
  /** Authentication refused. */
  | 'auth'
  /** SSH or socket transport failed (DNS, TCP, forwarding refused…). */
  | 'tunnel'
  /** Agent start, hello/welcome, version or token problem. */
  | 'handshake'
  /** The connection closed (by us, the agent, or the network). */
  | 'closed'
  /** Connecting or keepalive timed out. */
  | 'timeout';

export class ConnectionError extends ClustrixError {
  override name = 'ConnectionError';
  readonly kind: ConnectionErrorKind;
  readonly details: Record<string, unknown> | undefined;
  constructor(kind: ConnectionErrorKind, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options);
    this.kind = kind;
    this.details = options?.details;
  }
}

/**
 * A failed connect that trying another way would not cure: the caller
 * aborted, or the agent did not answer in time (another try would double
 * the wait). Anything else (a refused token, a close mid-handshake) may be
 * an agent that changed under us, worth one more look.
 */
export function isFinalConnectFailure(err: unknown, signal?: AbortSignal): boolean {
  return Boolean(signal?.aborted) || (err instanceof ConnectionError && err.kind === 'timeout');
}
