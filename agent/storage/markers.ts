/**
 * The login-node half of the storage probe's marker files: write ours, read
 * back the compute node's (re-listing the directory and retrying, because NFS
 * attribute caches hide a file written on another host for seconds), and
 * remove them all afterwards. Every call has a time limit: a hung mount costs
 * a libuv thread, not the probe.
 */
import { lstat, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { withTimeout } from './detect.js';
import { computeMarkerName, loginMarkerContent, loginMarkerName, parseComputeMarker, type ComputeMarker } from './probe-script.js';

/** Markers of ours older than this are leftovers of a probe that died: no probe waits that long. */
export const STALE_MARKER_MS = 24 * 3600_000;
/** How long the login node keeps looking for a compute marker it expects, ms. Default 20 s. */
export const COLLECT_WINDOW_MS = 20_000;

/** Create `<dir>/.clustrix-probe-<nonce>` (0600, must not exist). Throws with the reason. */
export async function writeLoginMarker(dir: string, nonce: string, timeoutMs: number): Promise<void> {
  const path = join(dir, loginMarkerName(nonce));
  await withTimeout(writeFile(path, loginMarkerContent(nonce), { flag: 'wx', mode: 0o600 }), timeoutMs, `writing ${path}`);
}

async function readMarker(dir: string, nonce: string, timeoutMs: number): Promise<ComputeMarker | null> {
  const path = join(dir, computeMarkerName(nonce));
  try {
    return parseComputeMarker(await withTimeout(readFile(path, 'utf8'), timeoutMs, `reading ${path}`));
  } catch {
    return null;
  }
}

export interface CollectOptions {
  timeoutMs: number;
  windowMs?: number;
  signal?: AbortSignal;
  /** Called once when the login node starts waiting for markers it expects. */
  onWait?: (dirs: string[]) => void;
}

/**
 * The compute marker in each dir (null where none appeared). Markers that
 * are there come back at once. Missing ones are looked for again — the
 * directory re-listed first — for up to `windowMs`, but only where they are
 * still expected: once one marker has arrived it tells where the compute
 * node saw our marker, and only there should its own appear.
 */
export async function collectComputeMarkers(dirs: readonly string[], nonce: string, o: CollectOptions): Promise<(ComputeMarker | null)[]> {
  const found: (ComputeMarker | null)[] = dirs.map(() => null);
  const deadline = Date.now() + (o.windowMs ?? COLLECT_WINDOW_MS);
  let delay = 250;
  let announced = false;
  for (let pass = 0; ; pass++) {
    await Promise.all(
      dirs.map(async (d, k) => {
        if (found[k]) return;
        // Listing the directory makes the NFS client revalidate it, so a new name is not hidden by a cached miss.
        if (pass > 0) await withTimeout(readdir(d), o.timeoutMs, `listing ${d}`).catch(() => {});
        found[k] = await readMarker(d, nonce, o.timeoutMs);
      }),
    );
    const report = found.find((m) => m !== null && m.all.length === dirs.length) ?? null;
    const expected = dirs.filter((_, k) => !found[k] && (report === null || report.all[k] === '1'));
    if (expected.length === 0 || Date.now() >= deadline || o.signal?.aborted) return found;
    if (!announced) {
      announced = true;
      o.onWait?.(expected);
    }
    await sleep(Math.min(delay, Math.max(0, deadline - Date.now())), undefined, o.signal ? { signal: o.signal } : {}).catch(() => {});
    delay = Math.min(delay * 2, 2000);
  }
}

/** Remove this probe's markers from `dir`, and probe markers of ours older than a day. Never throws; returns what failed. */
export async function removeMarkers(dir: string, nonce: string, timeoutMs: number, uid = process.getuid?.() ?? -1): Promise<string[]> {
  const problems: string[] = [];
  const rm = async (path: string) => {
    try {
      await withTimeout(unlink(path), timeoutMs, `removing ${path}`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') problems.push((err as Error).message);
    }
  };
  await rm(join(dir, loginMarkerName(nonce)));
  await rm(join(dir, computeMarkerName(nonce)));
  let names: string[] = [];
  try {
    names = await withTimeout(readdir(dir), timeoutMs, `listing ${dir}`);
  } catch {
    return problems;
  }
  const now = Date.now();
  for (const name of names) {
    if (!name.startsWith('.clustrix-probe-')) continue;
    const path = join(dir, name);
    // This probe's own leftovers (a temp file the compute node could not rename) go whatever their age.
    if (name.startsWith(loginMarkerName(nonce))) {
      if (name !== loginMarkerName(nonce) && name !== computeMarkerName(nonce)) await rm(path);
      continue;
    }
    try {
      const st = await withTimeout(lstat(path), timeoutMs, `lstat ${path}`);
      if (st.isFile() && st.uid === uid && now - st.mtimeMs > STALE_MARKER_MS) await rm(path);
    } catch {
      /* gone, or hung: not ours to fix now */
    }
  }
  return problems;
}
