/**
 * fs.statMany: the batched form of fs.stat/fs.lstat that the client sends when
 * a script fires many stats at once. Results keep request order; each path
 * fails on its own (its error travels in its slot, the batch succeeds).
 * Uses the callback fs API: measurably cheaper per call than fs/promises.
 */
import { lstat, stat, type Stats } from 'node:fs';
import { fsStatMany, type FileInfo, type StatManyItem } from '../../protocol/index.js';
import type { Registry } from '../registry.js';
import type { FsDeps } from './deps.js';
import { fsWireError } from './errors.js';
import { statFields } from './info.js';
import { readTarget } from './stat.js';
import { ioPath } from './paths.js';

/** stat calls a batch keeps in flight on the thread pool. */
const BATCH_CONCURRENCY = 64;

/** stat/lstat through the callback API (cheaper per call than fs/promises). */
export function statOne(io: ReturnType<typeof ioPath>, follow: boolean): Promise<Stats> {
  return new Promise((resolve, reject) => (follow ? stat : lstat)(io, (err, st) => (err ? reject(err) : resolve(st))));
}

export function registerStatMany(registry: Registry, deps: FsDeps): void {
  registry.unary(fsStatMany, async (p, ctx) => {
    const out: StatManyItem[] = new Array<StatManyItem>(p.paths.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < p.paths.length && !ctx.signal.aborted) {
        const i = next++;
        const io = ioPath(p.paths[i]!, deps.home);
        try {
          const info: FileInfo = statFields(await statOne(io, p.follow));
          if (info.type === 'symlink') await readTarget(io, info).catch(() => undefined);
          await deps.owners.fill(info);
          out[i] = info;
        } catch (err) {
          out[i] = { error: fsWireError(err, p.follow ? 'stat' : 'lstat', io) };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(BATCH_CONCURRENCY, p.paths.length) }, worker));
    return out;
  });
}
