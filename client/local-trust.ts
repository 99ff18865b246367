/**
 * What the client checks on this machine before it trusts a directory with
 * an agent's token or a mux's socket in it, or a pid in a lock or record.
 * (The agent has its own twins in agent/rundir.ts and agent/proc.ts: the
 * layers share only protocol/.)
 */
import { lstatSync, type Stats } from 'node:fs';

const myUid = (): number => process.getuid?.() ?? -1;

/** Its lstat when `path` is a real directory (not a symlink) owned by `uid` (any owner where uids do not exist, uid < 0). */
function ownedDirStat(path: string, uid: number): Stats | null {
  try {
    const st = lstatSync(path);
    return st.isDirectory() && (uid < 0 || st.uid === uid) ? st : null;
  } catch {
    return null;
  }
}

/** A real directory (not a symlink) owned by `uid`. */
export function ownedDir(path: string, uid = myUid()): boolean {
  return ownedDirStat(path, uid) !== null;
}

/** ownedDir, and nobody else may enter it (no group or other permission bits). */
export function ownedPrivateDir(path: string, uid = myUid()): boolean {
  const st = ownedDirStat(path, uid);
  return st !== null && (st.mode & 0o077) === 0;
}

/** The process exists (EPERM: it does, as another user's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
