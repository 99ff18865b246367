/**
 * Node fs errors → ProtocolError with the errno code kept, and a message that
 * names the operation and the path the way coreutils do:
 * `lstat /x/y: permission denied`.
 */
import { ProtocolError, isErrnoCode, type ErrnoCode, type WireError } from '../../protocol/index.js';
import { showPath, type FsPath } from './names.js';

const MESSAGES: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EEXIST: 'file exists',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  ENOTEMPTY: 'directory not empty',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  EINVAL: 'invalid argument',
  EXDEV: 'invalid cross-device link',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EBUSY: 'device or resource busy',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in system',
  ETXTBSY: 'text file busy',
  EFBIG: 'file too large',
  ESTALE: 'stale file handle',
  EAGAIN: 'resource temporarily unavailable',
  ENOTSUP: 'operation not supported',
  EOVERFLOW: 'value too large for defined data type',
};

interface NodeErrnoError {
  code: string;
  message: string;
  errno?: number;
  syscall?: string;
}

function isErrnoError(err: unknown): err is NodeErrnoError {
  const code = err instanceof Error ? (err as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code);
}

/** Node's own description, from "ENOENT: no such file or directory, lstat '/x'". */
function describe(err: NodeErrnoError): string {
  const m = /^[A-Z0-9]+: ([^,]+)/.exec(err.message);
  return m?.[1] ?? err.code.toLowerCase();
}

/**
 * The ProtocolError for a failed fs operation. Unknown errno codes become EIO
 * with `details.errno` naming the original; anything that is not an errno
 * error (a bug) is returned unchanged so the session reports it as INTERNAL.
 */
export function fsError(err: unknown, op: string, path: FsPath): unknown {
  if (err instanceof ProtocolError) return err;
  if (!isErrnoError(err)) return err;
  const where = `${op} ${showPath(path)}`;
  if (isErrnoCode(err.code)) return new ProtocolError(err.code, `${where}: ${MESSAGES[err.code] ?? describe(err)}`);
  return new ProtocolError('EIO', `${where}: ${describe(err)}`, { errno: err.code });
}

/** Same, as the wire shape carried inside stream entries (`error` fields). */
export function fsWireError(err: unknown, op: string, path: FsPath): WireError {
  const e = fsError(err, op, path);
  if (e instanceof ProtocolError) return e.toWire();
  return { code: 'EIO', message: `${op} ${showPath(path)}: ${e instanceof Error ? e.message : String(e)}` };
}

/** A ProtocolError for a condition we detect ourselves (e.g. ENOTDIR before opendir). */
export function errnoError(code: ErrnoCode, op: string, path: FsPath): ProtocolError {
  return new ProtocolError(code, `${op} ${showPath(path)}: ${MESSAGES[code] ?? code}`);
}

/** The errno code of a Node error, if any. */
export function errnoOf(err: unknown): string | undefined {
  return isErrnoError(err) ? err.code : undefined;
}

/** Run an fs operation, translating its errors. */
export async function attempt<T>(op: string, path: FsPath, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw fsError(err, op, path);
  }
}

/** The wire error of a call that failed on an fs thread ([code, message, syscall], see fs-threads.ts). */
export function threadWireError([code, message, syscall]: readonly [string, string, string], path: FsPath): WireError {
  return fsWireError(Object.assign(new Error(message || code), { code }), syscall, path);
}
