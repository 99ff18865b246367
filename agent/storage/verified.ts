/**
 * `<root>/storage.json`: what probe jobs saw from a compute node, and the
 * placement the last verification chose.
 *
 *   { version: 1,
 *     verified:  { <real path>: { mountPoint, path, shared, verifiedAt, evidence } },
 *     placement: { base, jobs, bundles, envs, basis, reason, decidedAt, rootShared },   (storage.verify)
 *     inUse:     { base, jobs, envs, bundles, reason, since, host } }                   (agent start)
 *
 * Records are keyed by the real path probed (files written before were keyed
 * by mount point; both read the same). A record applies to its own path, and
 * to other paths on its mount point unless the records there disagree (a
 * compute node can mount something over a directory that is a plain
 * directory on the login node's filesystem).
 *
 * Written with temp + rename: readers see the old or the new file. Last
 * writer wins; no lock (flock hangs on some NFS/GPFS mounts).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-file.js';
import type { PlacementInUse, StoragePlacement, StorageVerification } from '../../protocol/index.js';

/** The placement a verification chose, with what it knew about the root. */
export interface SavedPlacement extends StoragePlacement {
  decidedAt: number;
  /** The verified verdict on the clustrix root at that time (null: not verified). */
  rootShared: boolean | null;
}

/** What an agent start chose (so the next start knows where unfinished jobs are). */
export interface SavedInUse extends PlacementInUse {
  since: number;
  host: string;
}

export interface CacheFile {
  version: 1;
  verified: Record<string, StorageVerification>;
  placement?: SavedPlacement;
  inUse?: SavedInUse;
}

export function storageCachePath(root: string): string {
  return join(root, 'storage.json');
}

export function readCache(root: string): CacheFile {
  try {
    const f = JSON.parse(readFileSync(storageCachePath(root), 'utf8')) as Partial<CacheFile>;
    const out: CacheFile = { version: 1, verified: f.verified && typeof f.verified === 'object' ? f.verified : {} };
    if (f.placement) out.placement = f.placement;
    if (f.inUse) out.inUse = f.inUse;
    return out;
  } catch {
    return { version: 1, verified: {} };
  }
}

/** Read, change, write back atomically. */
export function updateCache(root: string, change: (f: CacheFile) => void): void {
  const f = readCache(root);
  change(f);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  writeFileAtomic(storageCachePath(root), JSON.stringify(f, null, 2) + '\n');
}

export function readVerifications(root: string): Map<string, StorageVerification> {
  return new Map(Object.entries(readCache(root).verified));
}

/** Add or replace records (by path; an older record of the same path under another key goes too). */
export function writeVerifications(root: string, records: readonly StorageVerification[]): void {
  updateCache(root, (f) => {
    for (const v of records) {
      for (const [k, old] of Object.entries(f.verified)) if (old.path === v.path) delete f.verified[k];
      f.verified[v.path] = v;
    }
  });
}

export function writeVerification(root: string, v: StorageVerification): void {
  writeVerifications(root, [v]);
}

export function savePlacement(root: string, p: SavedPlacement): void {
  updateCache(root, (f) => void (f.placement = p));
}

/**
 * The record that applies to `realPath` on `mountPoint`: its own, else the
 * newest of those on the same mount when they all agree. `conflict` when
 * they do not (then none applies).
 */
export function verificationFor(
  records: Iterable<StorageVerification>,
  realPath: string,
  mountPoint: string,
): { record: StorageVerification | null; conflict: boolean } {
  const onMount: StorageVerification[] = [];
  for (const r of records) {
    if (r.path === realPath) return { record: r, conflict: false };
    if (r.mountPoint === mountPoint) onMount.push(r);
  }
  if (onMount.length === 0) return { record: null, conflict: false };
  if (onMount.some((r) => r.shared !== onMount[0]!.shared)) return { record: null, conflict: true };
  return { record: onMount.reduce((a, b) => (b.verifiedAt > a.verifiedAt ? b : a)), conflict: false };
}
