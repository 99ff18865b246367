/**
 * Single agent per (user, host): an exclusive lock file in the node-local run
 * dir holding our pid. It is written whole under a private name and then
 * link()ed into place, which fails if a lock exists: a reader never sees it
 * half-written. A lock whose pid is dead (or is now some other program) is
 * stale and is broken, so a crashed agent never blocks the next start; an
 * unreadable one is stale only once it is old (an older build's starter
 * creates the file first and writes it after, so a young empty lock is a
 * start in progress, not garbage).
 */
import { linkSync, readFileSync, renameSync, unlinkSync } from 'node:fs';
import { parseLock, type LockInfo } from '../protocol/index.js';
import { createExclusive, stillBeingWritten } from './atomic-file.js';
import { isAgentProcess } from './proc.js';

export type { LockInfo };

export type LockResult = { acquired: true } | { acquired: false; holder: LockInfo };

export function readLock(path: string): LockInfo | null {
  try {
    return parseLock(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

/** Try to take the lock; break it if stale. Never blocks. */
export function acquireLock(path: string, info: LockInfo): LockResult {
  for (let attempt = 0; attempt < 5; attempt++) {
    if (createExclusive(path, JSON.stringify(info))) return { acquired: true };
    const holder = readLock(path);
    if (holder && isAgentProcess(holder.pid)) return { acquired: false, holder };
    if (!holder && stillBeingWritten(path)) return { acquired: false, holder: { pid: 0, startedAt: 0, build: '' } };
    breakStaleLock(path, holder);
  }
  const holder = readLock(path);
  if (holder) return { acquired: false, holder };
  throw new Error(`could not take the agent lock ${path}: it keeps changing; is another agent starting?`);
}

/**
 * Move the stale lock aside atomically. If what we moved is not what we judged
 * stale (another starter replaced it in between), put it back with link(),
 * which cannot clobber a newer lock.
 */
function breakStaleLock(path: string, seen: LockInfo | null): void {
  const aside = `${path}.stale.${process.pid}`;
  try {
    renameSync(path, aside);
  } catch {
    return; // someone else broke it first
  }
  const moved = readLock(aside);
  const same = (moved === null && seen === null) || (moved !== null && seen !== null && moved.pid === seen.pid && moved.startedAt === seen.startedAt);
  if (!same) {
    try {
      linkSync(aside, path);
    } catch {
      /* a newer lock exists already: ours was stale anyway */
    }
  }
  try {
    unlinkSync(aside);
  } catch {
    /* gone */
  }
}

/** Remove the lock if it is still ours. */
export function releaseLock(path: string, pid = process.pid): void {
  const cur = readLock(path);
  if (cur && cur.pid === pid) {
    try {
      unlinkSync(path);
    } catch {
      /* already gone */
    }
  }
}
