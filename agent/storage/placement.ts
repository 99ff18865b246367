/**
 * Where this agent keeps job dirs, dependency environments and function
 * bundles, decided once at agent start:
 *
 *   const p = resolvePlacement(root);   // { base, jobs, envs, bundles, reason }
 *
 * Everything stays under `<root>` unless BOTH
 *   - the clustrix root itself is verified NOT shared with compute nodes
 *     (a storage.verify record in `<root>/storage.json`), and
 *   - the last verification chose a verified-shared location
 *     (`placement` in storage.json, basis `verified-shared`), which is still
 *     verified shared and can be created,
 * in which case they go to `<that location>/.clustrix/{jobs,envs,bundles}`.
 * Guessed sharing never moves anything: a wrong guess would scatter state.
 *
 * A new placement takes effect at the next agent start. Job dirs never move
 * while the directory in use holds unfinished jobs (`<jobs>/.active/`): they
 * stay where they are until a start finds none, so no running job vanishes
 * from jobs.list/jobs.watch. Nothing is copied or deleted: records of jobs
 * that ended stay in the old directory (named in `reason`), environments are
 * rebuilt in the new one on first use (jobs already submitted keep their
 * absolute env and bundle paths).
 */
import { mkdirSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { PlacementInUse } from '../../protocol/index.js';
import { mountFor, parseMountinfo } from './mountinfo.js';
import { readCache, updateCache, verificationFor, type CacheFile } from './verified.js';

export interface ResolveOptions {
  /** Mount table, for tests. Default /proc/self/mountinfo. */
  mountinfoPath?: string;
  /** Record the choice in `<root>/storage.json` (`inUse`) when it changed. Default true. */
  record?: boolean;
}

function under(base: string, reason: string): PlacementInUse {
  return { base, jobs: join(base, 'jobs'), envs: join(base, 'envs'), bundles: join(base, 'bundles'), reason };
}

/** Unfinished jobs in a jobs dir: the markers JobStore keeps in `.active/`. */
export function activeJobCount(jobsDir: string): number {
  try {
    return readdirSync(join(jobsDir, '.active')).filter((n) => !n.includes('.tmp.')).length;
  } catch {
    return 0;
  }
}

/** Is `path` verified shared (true), verified not shared (false), or not verified (null)? */
function verdictOf(cache: CacheFile, path: string, mountinfo: string): boolean | null {
  let real: string;
  let mountPoint: string;
  try {
    real = realpathSync(path);
    const m = mountFor(parseMountinfo(readFileSync(mountinfo, 'utf8')), real);
    if (!m) return null;
    mountPoint = m.mountPoint;
  } catch {
    return null;
  }
  return verificationFor(Object.values(cache.verified), real, mountPoint).record?.shared ?? null;
}

/** The target by the rules above, before the unfinished-jobs guard. */
function target(root: string, cache: CacheFile, mountinfo: string): PlacementInUse {
  const rootShared = verdictOf(cache, root, mountinfo);
  if (rootShared !== false) {
    const why = rootShared ? 'the clustrix root is verified shared with compute nodes' : 'the clustrix root has not been verified (clustrix storage --verify)';
    return under(root, `${why}: everything stays under it`);
  }
  const p = cache.placement;
  if (!p || p.basis !== 'verified-shared' || p.base === root)
    return under(
      root,
      'the clustrix root is verified NOT shared, but no verified-shared location is known: compute nodes may not see job files (run clustrix storage --verify)',
    );
  if (verdictOf(cache, dirname(p.base), mountinfo) !== true)
    return under(root, `the clustrix root is verified NOT shared, and ${dirname(p.base)} (chosen before) is no longer verified shared: staying under the root`);
  const chosen = under(p.base, `the clustrix root is verified NOT shared; ${p.reason}`);
  try {
    for (const d of [chosen.base, chosen.jobs, chosen.envs, chosen.bundles]) mkdirSync(d, { recursive: true, mode: 0o700 });
  } catch (err) {
    return under(root, `the clustrix root is verified NOT shared, but ${p.base} cannot be created (${(err as Error).message}): staying under the root`);
  }
  return chosen;
}

export function resolvePlacement(root: string, o: ResolveOptions = {}): PlacementInUse {
  const cache = readCache(root);
  const chosen = target(root, cache, o.mountinfoPath ?? '/proc/self/mountinfo');
  const previous = cache.inUse?.jobs ?? join(root, 'jobs');
  if (chosen.jobs !== previous) {
    const active = activeJobCount(previous);
    if (active > 0) {
      chosen.jobs = previous;
      chosen.reason += `; job dirs stay in ${previous} while it holds ${active} unfinished job${active === 1 ? '' : 's'} (they move at an agent start with none)`;
    } else {
      chosen.reason += `; job dirs moved from ${previous} (records of earlier jobs stay there and are no longer listed)`;
    }
  }
  const same = cache.inUse && cache.inUse.jobs === chosen.jobs && cache.inUse.envs === chosen.envs && cache.inUse.bundles === chosen.bundles;
  if (o.record !== false && !same) {
    try {
      updateCache(root, (f) => void (f.inUse = { ...chosen, since: Date.now(), host: hostname() }));
    } catch {
      /* a read-only root: the choice is made again at every start, the same way */
    }
  }
  return chosen;
}
