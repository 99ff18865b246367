/**
 * fs.statMany: the batched form of fs.stat/fs.lstat that the client sends when
 * a script fires many stats at once. Results keep request order; each path
 * fails on its own (its error travels in its slot, the batch succeeds).
 *
 * The stats run on the fs threads in jobs of STAT_BATCH paths (one hand-off
 * per job rather than a threadpool call, a promise and a Stats object per
 * path); lstat jobs read symlink targets in the same pass.
 */
import { lstat, stat, type Stats } from 'node:fs';
import { fsStatMany, type FileInfo, type StatManyItem } from '../../protocol/index.js';
import type { Registry } from '../registry.js';
import type { FsDeps } from './deps.js';
import { threadWireError } from './errors.js';
import { statFields, statRecordAt } from './info.js';
import { nameFromBytes } from './names.js';
import { ioPath } from './paths.js';
import { STAT_BATCH } from './walk.js';

/** stat/lstat through the callback API (cheaper per call than fs/promises). */
export function statOne(io: ReturnType<typeof ioPath>, follow: boolean): Promise<Stats> {
  return new Promise((resolve, reject) => (follow ? stat : lstat)(io, (err, st) => (err ? reject(err) : resolve(st))));
}

export function registerStatMany(registry: Registry, deps: FsDeps): void {
  registry.unary(fsStatMany, async (p, ctx) => {
    const ios = p.paths.map((path) => ioPath(path, deps.home));
    const out = new Array<StatManyItem>(ios.length);
    const names: Promise<void>[] = [];
    const jobs: Promise<void>[] = [];
    for (let start = 0; start < ios.length; start += STAT_BATCH) {
      const paths = ios.slice(start, start + STAT_BATCH);
      jobs.push(
        deps.threads.stat({ paths, follow: p.follow, links: !p.follow }, ctx.signal).then((a) => {
          for (let i = 0; i < paths.length; i++) {
            const err = a.errs?.[i];
            if (err) {
              out[start + i] = { error: threadWireError(err, paths[i]!) };
              continue;
            }
            const info: FileInfo = statFields(statRecordAt(a.st, i));
            const target = a.targets?.[i];
            if (target) {
              const t = nameFromBytes(Buffer.from(target.buffer, target.byteOffset, target.byteLength));
              info.target = t.name;
              if (t.raw) info.targetRaw = t.raw;
            }
            const wait = deps.owners.fill(info);
            if (wait) names.push(wait);
            out[start + i] = info;
          }
        }),
      );
    }
    await Promise.all(jobs);
    await Promise.all(names);
    return out;
  });
}
