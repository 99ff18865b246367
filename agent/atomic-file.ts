/**
 * Replace a file so readers see the old or the new content, never a torn
 * one: write a temp file beside it, then rename (atomic on every filesystem
 * a clustrix root may be on, NFS and GPFS included; no flock needed).
 */
import { linkSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';

let tmpSeq = 0;

export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  const tmp = `${path}.tmp.${process.pid}.${++tmpSeq}`;
  writeFileSync(tmp, data, { mode });
  try {
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      /* gone */
    }
    throw err;
  }
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value));
}

/**
 * Create `path` with `data` only if it does not exist, whole: written under a
 * private name, then link()ed into place (EEXIST if taken; atomic on NFS and
 * GPFS too). O_EXCL then write would let a reader in between see an empty
 * file and take it for a dead holder's leftovers. False if `path` exists.
 */
export function createExclusive(path: string, data: string, mode = 0o600): boolean {
  const tmp = `${path}.new.${process.pid}.${++tmpSeq}`;
  writeFileSync(tmp, data, { mode });
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      /* gone */
    }
  }
}

/**
 * An exclusive file that is there but unreadable, and younger than this, is
 * being written, not left over: older builds created such files with O_EXCL
 * and wrote them after, so a reader could find one empty for a moment.
 */
export const CREATING_GRACE_MS = 5_000;

/** True if `path` (found unreadable) is young enough to be still being written (false when it is gone). */
export function stillBeingWritten(path: string): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs < CREATING_GRACE_MS;
  } catch {
    return false;
  }
}
