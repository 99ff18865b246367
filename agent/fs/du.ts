/**
 * fs.du: `du -s -b` (apparentBytes) and `du -s -B1` (allocatedBytes) in one
 * walk, the way GNU du counts:
 *
 * - every entry counts, directories and symlinks included, the root too;
 * - symlinks are never followed, not even a symlink given as the path (GNU du
 *   without -L/-D reports the link's own size: `du -sb link` prints its length);
 * - a non-directory with st_nlink > 1 counts once per (st_dev, st_ino), like
 *   du's hard-link table (directories are never looked up there);
 * - an unreadable directory still counts its own size; the error is counted
 *   and the first few kept, and the walk goes on;
 * - with maxDepth, every directory down to it gets its own total (du-dirs.ts).
 *
 * Files with one link never reach the event loop one by one: the fs thread
 * sums them per directory (walk's onFolded); only directories, hard links
 * and errors come back as entries.
 */
import { fsDu, type DuResult, type FindEntry } from '../../protocol/index.js';
import type { Registry } from '../registry.js';
import type { FsDeps } from './deps.js';
import { resolvePath } from './paths.js';
import { startProgress } from './progress.js';
import { DirTotals } from './du-dirs.js';
import { walk } from './walk.js';

/** Errors kept in DuResult.firstErrors. */
export const DU_FIRST_ERRORS = 10;

export function registerDu(registry: Registry, deps: FsDeps): void {
  registry.stream(fsDu, async (p, ctx): Promise<DuResult> => {
    const started = Date.now();
    const r: DuResult = { apparentBytes: 0, allocatedBytes: 0, files: 0, dirs: 0, symlinks: 0, other: 0, errors: 0, firstErrors: [], elapsedMs: 0 };
    // dev → inodes already counted, for multiply-linked files only (usually few).
    const seen = new Map<number, Set<number>>();
    const byDir = p.maxDepth === undefined ? undefined : new DirTotals(p.maxDepth);
    const w = walk({
      root: resolvePath(p.path, deps.home),
      follow: false,
      xdev: p.xdev,
      maxDepth: Infinity,
      statAll: true,
      signal: ctx.signal,
      timeLimitMs: p.timeLimitMs ?? ctx.limits.walkTimeLimitMs,
      threads: deps.threads,
      what: 'fs.du',
      onEntry(e) {
        const st = e.stats!;
        if (e.type === 'file') r.files++;
        else if (e.type === 'dir') r.dirs++;
        else if (e.type === 'symlink') r.symlinks++;
        else r.other++;
        if (st.nlink > 1 && e.type !== 'dir') {
          let inodes = seen.get(st.dev);
          if (!inodes) seen.set(st.dev, (inodes = new Set()));
          if (inodes.has(st.ino)) return;
          inodes.add(st.ino);
        }
        r.apparentBytes += st.size;
        r.allocatedBytes += st.blocks * 512;
        if (byDir) {
          try {
            byDir.add(e, st.size, st.blocks * 512);
          } catch (err) {
            return Promise.reject(err); // the walk's way to fail (a throw here would escape it)
          }
        }
      },
      // Files with one link, summed per directory on the fs thread (nothing to look up in `seen`).
      onFolded(prefix, depth, [files, symlinks, other, apparent, allocated]) {
        r.files += files;
        r.symlinks += symlinks;
        r.other += other;
        r.apparentBytes += apparent;
        r.allocatedBytes += allocated;
        byDir?.addFolded(prefix, depth, apparent, allocated);
      },
      onError(e) {
        r.errors++;
        if (r.firstErrors.length < DU_FIRST_ERRORS) {
          const entry: FindEntry = { path: e.path, type: e.type, depth: e.depth, error: e.error };
          if (e.raw) entry.raw = e.raw;
          r.firstErrors.push(entry);
        }
      },
    });
    const progress = startProgress(ctx, () => ({ visited: w.visited, apparentBytes: r.apparentBytes, elapsedMs: Date.now() - started }));
    try {
      await w.done;
    } finally {
      await progress.stop();
    }
    r.elapsedMs = Date.now() - started;
    if (byDir) r.byDir = byDir.totals();
    return r;
  });
}
