/** Exit codes scripts can rely on (documented in the README). */
import { ConnectionError, RemoteError } from '../errors.js';

export const EXIT = {
  OK: 0,
  /** The operation failed, or partly failed (find/du could not read some entries). */
  FAILED: 1,
  /** Bad usage: unknown option, invalid value, INVALID_PARAMS. */
  USAGE: 2,
  /** Not found: ENOENT / NOT_FOUND; for `status`: no agent running. */
  NOT_FOUND: 3,
  /** Permission denied: EACCES / EPERM. */
  DENIED: 4,
  /** Could not connect: SSH, host key, auth, tunnel, agent handshake. */
  CONNECTION: 5,
  /** Timed out (TIMEOUT). */
  TIMEOUT: 6,
  /** Interrupted by Ctrl-C. */
  INTERRUPTED: 130,
} as const;

export class UsageError extends Error {
  override name = 'UsageError';
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return EXIT.USAGE;
  if (err instanceof ConnectionError) return EXIT.CONNECTION;
  if (err instanceof RemoteError) {
    switch (err.code) {
      case 'ENOENT':
      case 'NOT_FOUND':
        return EXIT.NOT_FOUND;
      case 'EACCES':
      case 'EPERM':
        return EXIT.DENIED;
      case 'INVALID_PARAMS':
        return EXIT.USAGE;
      case 'TIMEOUT':
        return EXIT.TIMEOUT;
      case 'CANCELLED':
        return EXIT.INTERRUPTED;
      default:
        return EXIT.FAILED;
    }
  }
  return EXIT.FAILED;
}

/** One line for stderr that says what failed and, where we know, what to do. */
export function describeError(err: unknown): string {
  if (err instanceof ConnectionError) return `cannot connect (${err.kind}): ${err.message}`;
  if (err instanceof RemoteError) return err.message;
  return err instanceof Error ? err.message : String(err);
}
