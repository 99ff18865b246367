/**
 * Param paths → fs paths. Relative paths are relative to the agent's home
 * (as in an ssh session, which starts there), `~` and `~/…` expand to it.
 * Nothing is normalised: `a/../b` and a trailing slash mean to the kernel
 * exactly what they mean to a shell (a trailing slash follows a symlink).
 */
import { decodeLossy, joinBytes, joinPath, pathBytes, toFsPath, type FsPath } from './names.js';

export interface Resolved {
  /** What fs calls get: absolute, bytes only when not valid UTF-8. */
  io: FsPath;
  /** How results print it: the path as given, with `~` expanded (lossy when not UTF-8). */
  shown: string;
  /** Exact bytes of `shown` when it is not valid UTF-8. */
  raw?: Buffer;
}

export function resolvePath(input: string | Uint8Array, home: string): Resolved {
  const p = toFsPath(input);
  if (typeof p === 'string') {
    const shown = p === '~' ? home : p.startsWith('~/') ? joinPath(home, p.slice(2)) : p;
    const io = shown.startsWith('/') ? shown : joinPath(home, shown);
    return { io, shown };
  }
  let shownBytes: Buffer = p;
  if (p.length >= 2 && p[0] === 0x7e && p[1] === 0x2f) shownBytes = joinBytes(home, p.subarray(2));
  const io = shownBytes[0] === 0x2f ? shownBytes : joinBytes(pathBytes(home), shownBytes);
  return { io, shown: decodeLossy(shownBytes), raw: shownBytes };
}

/** Just the fs path. */
export function ioPath(input: string | Uint8Array, home: string): FsPath {
  return resolvePath(input, home).io;
}

/** The parent directory of an fs path (`/a/b` → `/a`), for temp files beside a target. */
export function parentOf(p: FsPath): FsPath {
  if (typeof p === 'string') {
    const trimmed = p.replace(/\/+$/, '');
    const i = trimmed.lastIndexOf('/');
    return i <= 0 ? '/' : trimmed.slice(0, i);
  }
  let end = p.length;
  while (end > 1 && p[end - 1] === 0x2f) end--;
  const i = p.subarray(0, end).lastIndexOf(0x2f);
  return i <= 0 ? '/' : p.subarray(0, i);
}

/** The last component of an fs path (`/a/b/` → `b`), as bytes-or-string like the input. */
export function baseOf(p: FsPath): FsPath {
  if (typeof p === 'string') {
    const trimmed = p.length > 1 ? p.replace(/\/+$/, '') : p;
    return trimmed.slice(trimmed.lastIndexOf('/') + 1) || trimmed;
  }
  let end = p.length;
  while (end > 1 && p[end - 1] === 0x2f) end--;
  const t = p.subarray(0, end);
  const b = t.subarray(t.lastIndexOf(0x2f) + 1);
  return b.length ? b : t;
}
