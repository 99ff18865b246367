/** Trees and helpers shared by the parity tests. */
import { readdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import type { FindEntry } from '../../../protocol/index.js';
import { BASE_MTIME_S, bpath, makeHardlinkTree, makeLoopTree, makeTrickyTree } from '../../support/trees.js';

/** Bytes of a find/glob entry's path. */
export function entryBytes(e: { path: string; raw?: Uint8Array | undefined }): Buffer {
  return e.raw ? Buffer.from(e.raw) : Buffer.from(e.path, 'utf8');
}

/** Only the entries that are results (not error reports). */
export function results(items: FindEntry[]): FindEntry[] {
  return items.filter((e) => !e.error);
}

/**
 * Give every file below `root` a deterministic whole-second mtime (so `-newer`
 * is exact): entries alternate between BASE and BASE+100 seconds.
 */
export function stampTimes(root: string | Buffer): void {
  let i = 0;
  const visit = (dir: Buffer): void => {
    for (const e of readdirSync(dir, { withFileTypes: true, encoding: 'buffer' })) {
      const p = bpath(dir, e.name);
      if (e.isSymbolicLink()) continue;
      if (e.isDirectory()) visit(p);
      const t = BASE_MTIME_S + (i++ % 2) * 100;
      utimesSync(p, t, t);
    }
  };
  visit(typeof root === 'string' ? Buffer.from(root) : root);
}

/** The find parity tree: tricky names, symlinks, a loop tree and hard links side by side. */
export function makeParityTree(root: string): { tricky: string; loops: string; links: string } {
  const tricky = join(root, 'tricky');
  const loops = join(root, 'loops');
  const links = join(root, 'hardlinks');
  makeTrickyTree(tricky);
  makeLoopTree(loops);
  makeHardlinkTree(links);
  stampTimes(root);
  return { tricky, loops, links };
}
