/**
 * Old agent builds pile up under `<root>/agent/<build>/` (one per client
 * version that ever connected; a home quota counts every one). A serving
 * agent removes the builds that nothing needs any more: not its own, not one
 * a registered agent on any login node runs, not one of the few most recently
 * installed (a client of that version may be about to start it; if it was
 * removed anyway, the client installs it again), and none touched in the last
 * day. Removing a running build's file is harmless on POSIX (the process
 * holds it open). Best effort: errors are ignored.
 */
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { listRegistry } from './host-registry.js';

/** Most recently installed builds always kept, besides our own. */
export const KEEP_RECENT_BUILDS = 3;
/** Builds installed within this many milliseconds are kept. Default 1 day. */
export const KEEP_YOUNG_MS = 24 * 3600_000;

export function pruneOldBuilds(root: string, own: string, now = Date.now()): string[] {
  const base = join(root, 'agent');
  let names: string[];
  try {
    names = readdirSync(base).filter((n) => /^[0-9a-f]{16}$/.test(n));
  } catch {
    return [];
  }
  const inUse = new Set([own, ...listRegistry(root).map((e) => e.build)]);
  const aged = names
    .map((n) => {
      try {
        return { n, t: statSync(join(base, n)).mtimeMs };
      } catch {
        return { n, t: now };
      }
    })
    .sort((a, b) => b.t - a.t);
  const removed: string[] = [];
  for (const [i, b] of aged.entries()) {
    if (i < KEEP_RECENT_BUILDS || inUse.has(b.n) || now - b.t < KEEP_YOUNG_MS) continue;
    try {
      rmSync(join(base, b.n), { recursive: true, force: true });
      removed.push(b.n);
    } catch {
      /* someone else's, read-only: leave it */
    }
  }
  return removed;
}
