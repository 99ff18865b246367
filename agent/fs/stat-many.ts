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
import { fsStatMany, StatManyWriter } from '../../protocol/index.js';
import type { Registry } from '../registry.js';
import type { FsDeps } from './deps.js';
import { threadWireError } from './errors.js';
import { STAT_FIELDS } from './fs-thread-code.js';
import { typeOfMode } from './info.js';
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
    // The fs threads answer in STAT_MANY_FIELDS order already (fs-thread-code.ts): slots are copied as they are.
    const out = new StatManyWriter(ios.length);
    const uids = new Set<number>();
    const gids = new Set<number>();
    const jobs: Promise<void>[] = [];
    for (let start = 0; start < ios.length; start += STAT_BATCH) {
      const paths = ios.slice(start, start + STAT_BATCH);
      jobs.push(
        deps.threads.stat({ paths, follow: p.follow, links: !p.follow }, ctx.signal).then((a) => {
          for (let i = 0; i < paths.length; i++) {
            const err = a.errs?.[i];
            if (err) {
              out.fail(start + i, threadWireError(err, paths[i]!));
              continue;
            }
            const o = i * STAT_FIELDS;
            out.set(start + i, typeOfMode(a.st[o]!), a.st, o);
            uids.add(a.st[o + 2]!);
            gids.add(a.st[o + 3]!);
            const target = a.targets?.[i];
            if (target) {
              const t = nameFromBytes(target);
              out.target(start + i, t.name, t.raw);
            }
          }
        }),
      );
    }
    await Promise.all(jobs);
    // Names once per id of the batch, not once per path.
    await Promise.all([
      ...[...uids].map(async (uid) => {
        const name = deps.owners.userCached(uid) ?? (await deps.owners.user(uid));
        if (name) out.user(uid, name);
      }),
      ...[...gids].map(async (gid) => {
        const name = deps.owners.groupCached(gid) ?? (await deps.owners.group(gid));
        if (name) out.group(gid, name);
      }),
    ]);
    return out.result();
  });
}
