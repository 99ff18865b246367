/**
 * A build lease on the shared filesystem: a file created whole (link() of a
 * fully written private file, atomic-file.ts) holding
 * `{ host, pid, token, expiresAt }`. The holder renews it (temp + rename)
 * while it builds; anyone may steal it once `expiresAt` has passed, by
 * renaming it aside (atomic: one stealer wins) and creating a new one. No
 * flock: it hangs on some NFS/GPFS mounts.
 *
 * Clocks of login nodes are assumed within a few seconds of each other; the
 * lease lasts far longer than that (default 60 s, renewed every 15 s).
 */
import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { createExclusive, stillBeingWritten } from '../atomic-file.js';

export interface LeaseRecord {
  host: string;
  pid: number;
  token: string;
  expiresAt: number;
}

export interface Lease {
  readonly path: string;
  readonly record: LeaseRecord;
  /** Push `expiresAt` forward. False if the lease was stolen (we no longer hold it). */
  renew(): boolean;
  /** Remove the lease if it is still ours. */
  release(): void;
}

/** Default lease length, ms. */
export const LEASE_MS = 60_000;

export function readLease(path: string): LeaseRecord | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LeaseRecord;
  } catch {
    return null;
  }
}

function create(path: string, rec: LeaseRecord): boolean {
  return createExclusive(path, JSON.stringify(rec));
}

/**
 * Try once to take the lease: create it, or steal it if expired. Returns the
 * lease, or the live holder's record (null if it vanished meanwhile: try again).
 */
export function tryAcquireLease(path: string, who: { host: string; pid: number }, ms = LEASE_MS, now = Date.now): Lease | { heldBy: LeaseRecord | null } {
  const rec: LeaseRecord = { host: who.host, pid: who.pid, token: randomBytes(12).toString('hex'), expiresAt: now() + ms };
  if (create(path, rec)) return makeLease(path, rec, ms, now);
  const holder = readLease(path);
  if (holder && holder.expiresAt > now()) return { heldBy: holder };
  // Unreadable: an older build's holder between creating and writing it (held), or a crashed one's leftover (expired once old).
  if (!holder && stillBeingWritten(path)) return { heldBy: null };
  const aside = `${path}.stale-${rec.token}`;
  try {
    renameSync(path, aside);
  } catch {
    return { heldBy: null }; // someone else stole or released it first
  }
  const moved = readLease(aside);
  if (moved && moved.expiresAt > now()) {
    // Renewed between our read and our rename: put it back (link cannot clobber a newer lease).
    try {
      linkSync(aside, path);
    } catch {
      /* a newer lease already exists */
    }
    unlinkQuiet(aside);
    return { heldBy: moved };
  }
  unlinkQuiet(aside);
  return create(path, rec) ? makeLease(path, rec, ms, now) : { heldBy: readLease(path) };
}

function unlinkQuiet(p: string): void {
  try {
    unlinkSync(p);
  } catch {
    /* gone */
  }
}

function makeLease(path: string, record: LeaseRecord, ms: number, now: () => number): Lease {
  const ours = () => readLease(path)?.token === record.token;
  return {
    path,
    record,
    renew() {
      if (!ours()) return false;
      record.expiresAt = now() + ms;
      const tmp = `${path}.${record.token}.tmp`;
      writeFileSync(tmp, JSON.stringify(record), { mode: 0o600 });
      renameSync(tmp, path);
      return true;
    },
    release() {
      if (ours()) unlinkQuiet(path);
    },
  };
}
