/**
 * fs.find and fs.count: GNU find semantics over the shared walker.
 *
 * - The root is printed at depth 0 as given (`~` expanded; a relative root
 *   prints relative, as find run from home would).
 * - Errors (unreadable directory, vanished entry, symlink loop under follow)
 *   are entries with `error`, sent whatever the filters say, like find's
 *   stderr lines; an unreadable directory is also reported as a match, as
 *   find prints it before failing to read it.
 * - `limit`: the walk stops at the first match past the limit, so
 *   `truncated` is true only when there really was more.
 */
import { FindBatchWriter, fsCount, fsFind, type CountResult, type EntryStat, type WalkSummary } from '../../protocol/index.js';
import { StreamBatcher } from '../batcher.js';
import type { Registry } from '../registry.js';
import type { FsDeps } from './deps.js';
import { compileFilter } from './filters.js';
import { assignStat } from './info.js';
import { compileFnmatch } from './match.js';
import { resolvePath } from './paths.js';
import { startProgress } from './progress.js';
import { walk } from './walk.js';

interface WalkParams {
  root: string | Uint8Array;
  follow: boolean;
  xdev: boolean;
  maxDepth?: number | undefined;
  prune?: string[] | undefined;
  timeLimitMs?: number | undefined;
}

function pruner(patterns: string[] | undefined): ((name: string) => boolean) | undefined {
  if (!patterns?.length) return undefined;
  const ms = patterns.map((p) => compileFnmatch(p));
  return (name) => ms.some((m) => m(name));
}

export function registerFind(registry: Registry, deps: FsDeps): void {
  const walkOpts = (p: WalkParams, signal: AbortSignal, defaultLimitMs: number) => ({
    root: resolvePath(p.root, deps.home),
    follow: p.follow,
    xdev: p.xdev,
    maxDepth: p.maxDepth ?? Infinity,
    prune: pruner(p.prune),
    signal,
    timeLimitMs: p.timeLimitMs ?? defaultLimitMs,
    threads: deps.threads,
  });

  registry.stream(fsFind, async (p, ctx): Promise<WalkSummary> => {
    const started = Date.now();
    const filter = compileFilter(p);
    const limit = p.limit;
    const out = new FindBatchWriter();
    const batcher = new StreamBatcher(ctx, out);
    let matched = 0;
    let truncated = false;
    const w = walk({
      ...walkOpts(p, ctx.signal, ctx.limits.walkTimeLimitMs),
      what: 'fs.find',
      statAll: filter.needsStat || p.stat,
      onEntry(e) {
        if (!filter.test(e)) return;
        if (limit !== undefined && matched >= limit) {
          truncated = true;
          w.stop();
          return;
        }
        matched++;
        const rest = e.prefix === '' ? e.path : e.name;
        if (p.stat && e.stats) {
          const st: EntryStat = assignStat({}, e.stats);
          const names = deps.owners.fill(st);
          if (names) {
            // `e` is refilled for the next entry: keep what the batch needs before waiting.
            const { prefix, type, depth, raw } = e;
            return names.then(() => {
              out.add(prefix, rest, type, depth, raw, undefined, st);
              return batcher.added();
            });
          }
          out.add(e.prefix, rest, e.type, e.depth, e.raw, undefined, st);
        } else out.add(e.prefix, rest, e.type, e.depth, e.raw);
        return batcher.added();
      },
      onError(e) {
        out.add('', e.path, e.type, e.depth, e.raw, e.error);
        return batcher.added();
      },
    });
    let res;
    try {
      res = await w.done;
      await batcher.flush();
    } finally {
      batcher.dispose();
    }
    return { matched, visited: res.visited, errors: res.errors, truncated, elapsedMs: Date.now() - started };
  });

  registry.stream(fsCount, async (p, ctx): Promise<CountResult> => {
    const started = Date.now();
    const filter = compileFilter(p);
    const r: CountResult = { total: 0, files: 0, dirs: 0, symlinks: 0, other: 0, errors: 0, elapsedMs: 0 };
    const w = walk({
      ...walkOpts(p, ctx.signal, ctx.limits.walkTimeLimitMs),
      what: 'fs.count',
      statAll: filter.needsStat,
      onEntry(e) {
        if (!filter.test(e)) return;
        r.total++;
        if (e.type === 'file') r.files++;
        else if (e.type === 'dir') r.dirs++;
        else if (e.type === 'symlink') r.symlinks++;
        else r.other++;
      },
      onError() {
        r.errors++;
      },
    });
    const progress = startProgress(ctx, () => ({ visited: w.visited, elapsedMs: Date.now() - started }));
    try {
      await w.done;
    } finally {
      await progress.stop();
    }
    r.elapsedMs = Date.now() - started;
    return r;
  });
}
