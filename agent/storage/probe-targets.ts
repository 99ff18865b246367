/**
 * Step 1 of storage.verify: which directories to probe, for which detected
 * locations. A location is probed when it exists, detection had no error on
 * it, and it is writable — or holds a writable `<location>/<user>` (`/scratch`
 * is rarely writable, `/scratch/alice` is). Locations resolving to the same
 * real path are probed once. The others get verdict `skipped` and the reason.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { StorageLocation, StorageProbeLocation } from '../../protocol/index.js';
import { withTimeout } from './detect.js';

/** A directory probed once for one or more locations that resolve to it. */
export interface Target {
  probeDir: string;
  realPath: string;
  mountPoint: string | null;
  /** Indices into the result list. */
  members: number[];
}

export function resultOf(l: StorageLocation): StorageProbeLocation {
  return { kind: l.kind, path: l.path, probeDir: null, mountPoint: l.mountPoint, verdict: 'skipped', reason: '', computeSaw: null, loginSaw: null };
}

async function writable(dir: string, timeoutMs: number): Promise<boolean> {
  try {
    await withTimeout(access(dir, constants.W_OK | constants.X_OK), timeoutMs, `access ${dir}`);
    return (await withTimeout(stat(dir), timeoutMs, `stat ${dir}`)).isDirectory();
  } catch {
    return false;
  }
}

/** Step 1: which directories to probe, for which locations. */
export async function selectTargets(locs: readonly StorageLocation[], user: string, timeoutMs: number, results: StorageProbeLocation[]): Promise<Target[]> {
  const byReal = new Map<string, Target>();
  for (const [i, l] of locs.entries()) {
    const r = results[i]!;
    if (!l.exists || !l.realPath) {
      r.reason = l.error ? `cannot be resolved: ${l.error}` : 'does not exist';
      continue;
    }
    if (l.error) {
      r.reason = `detection failed here: ${l.error}`;
      continue;
    }
    const same = byReal.get(l.realPath);
    if (same) {
      same.members.push(i);
      continue;
    }
    let probeDir: string | null = null;
    if (await writable(l.realPath, timeoutMs)) probeDir = l.realPath;
    else if (await writable(join(l.realPath, user), timeoutMs)) probeDir = join(l.realPath, user);
    if (!probeDir) {
      r.reason = `not writable by ${user} (nor is ${join(l.realPath, user)})`;
      continue;
    }
    byReal.set(l.realPath, { probeDir, realPath: l.realPath, mountPoint: l.mountPoint, members: [i] });
  }
  return [...byReal.values()];
}
