/**
 * fs.lstat / fs.stat against `stat --printf`, and fs.ls against
 * `find DIR -mindepth 1 -maxdepth 1 -printf` (names byte-exact, with sizes).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fsLs, fsLstat, fsStat, readLsBatch, type DirEntry } from '../../protocol/index.js';
import { createDirect } from '../support/direct.js';
import { makeHardlinkTree, makeHugeDir, makeSparseTree, makeTrickyTree, removeTree, tempDir } from '../support/trees.js';
import { byteSet, run, splitNul } from './helpers/gnu.js';

let base: string;
let direct: ReturnType<typeof createDirect>;

beforeAll(() => {
  base = tempDir('clx-parity-stat-');
  makeTrickyTree(join(base, 'tricky'));
  makeSparseTree(join(base, 'sparse'));
  makeHardlinkTree(join(base, 'hardlinks'));
  direct = createDirect({ home: base });
});
afterAll(() => removeTree(base));

/** Every path below base, as bytes (from find -print0). */
async function allPaths(): Promise<Buffer[]> {
  return splitNul((await run('find', [base, '-print0'])).stdout);
}

const FORMAT = '%s %b %f %u %g %h %i %Y %d\\0';

function fields(info: {
  size?: number;
  blocks?: number;
  mode?: number;
  uid?: number;
  gid?: number;
  nlink?: number;
  ino?: number;
  mtimeMs?: number;
  dev?: number;
}): string {
  return `${info.size} ${info.blocks} ${info.mode!.toString(16)} ${info.uid} ${info.gid} ${info.nlink} ${info.ino} ${Math.floor(info.mtimeMs! / 1000)} ${info.dev}`;
}

describe('fs.lstat / fs.stat match stat(1)', () => {
  it('every path of tricky, sparse and hard-link trees: size, blocks, mode, uid, gid, nlink, inode, mtime, dev', async () => {
    // Node encodes argv strings as UTF-8, so paths that are not UTF-8 are checked in the next test.
    const paths = (await allPaths()).filter((p) => Buffer.from(p.toString('utf8')).equals(p));
    expect(paths.length).toBeGreaterThan(100);
    const want = splitNul((await run('stat', ['--printf', FORMAT, '--', ...paths.map((p) => p.toString('utf8'))])).stdout).map(String);
    const got: string[] = [];
    for (const p of paths) got.push(fields(await direct.call(fsLstat, { path: p.toString('utf8') })));
    expect(got).toEqual(want);
  });

  it('paths that are not UTF-8, through raw bytes (stat run in the directory with a glob)', async () => {
    const dir = join(base, 'tricky', 'invalid');
    // bash expands * to the exact bytes, so stat sees them unchanged.
    const r = await run('bash', ['-c', `cd -- "$1" && LC_ALL=C stat --printf '%n\\0${FORMAT}' -- *`, 'bash', dir]);
    const parts = splitNul(r.stdout);
    expect(parts.length).toBeGreaterThanOrEqual(12);
    for (let i = 0; i + 1 < parts.length; i += 2) {
      const name = parts[i]!;
      const path = Buffer.concat([Buffer.from(dir + '/'), name]);
      const info = await direct.call(fsLstat, { path: new Uint8Array(path) });
      expect(fields(info)).toBe(parts[i + 1]!.toString());
    }
  });

  it('stat follows symlinks like stat -L', async () => {
    for (const rel of ['tricky/links/rel-file', 'tricky/links/abs-file', 'tricky/links/rel-dir', 'hardlinks/b/dirlink']) {
      const path = join(base, rel);
      const want = splitNul((await run('stat', ['-L', '--printf', FORMAT, '--', path])).stdout)[0]!.toString();
      expect(fields(await direct.call(fsStat, { path }))).toBe(want);
    }
  });

  it('lstat of a symlink carries its target like readlink', async () => {
    for (const rel of ['tricky/links/rel-file', 'tricky/links/broken', 'tricky/links/loop-a']) {
      const path = join(base, rel);
      const want = (await run('readlink', ['--', path])).stdout.toString().replace(/\n$/, '');
      const info = await direct.call(fsLstat, { path });
      expect(info.type).toBe('symlink');
      expect(info.target).toBe(want);
    }
  });
});

describe('fs.ls matches find -maxdepth 1', () => {
  async function gnuListing(dir: string): Promise<string[]> {
    const r = await run('find', [dir, '-mindepth', '1', '-maxdepth', '1', '-printf', '%f\\0%s\\0%y\\0']);
    const parts = splitNul(r.stdout);
    const out: string[] = [];
    for (let i = 0; i + 2 < parts.length; i += 3) out.push(`${parts[i]!.toString('latin1')} ${parts[i + 1]} ${parts[i + 2]}`);
    return out.sort();
  }
  const Y: Record<string, string> = { file: 'f', dir: 'd', symlink: 'l', fifo: 'p', socket: 's', char: 'c', block: 'b' };
  const ours = (items: DirEntry[]): string[] =>
    items.map((e) => `${Buffer.from(e.raw ?? Buffer.from(e.name)).toString('latin1')} ${e.size} ${Y[e.type]}`).sort();

  it.each(['tricky/files', 'tricky/dirs', 'tricky/invalid', 'tricky/links', 'sparse', 'hardlinks/b'])('%s: names byte-exact, sizes, types', async (rel) => {
    const dir = join(base, rel);
    const { items, summary } = await direct.items(fsLs, { path: dir });
    expect(ours(items)).toEqual(await gnuListing(dir));
    expect(summary.count).toBe(items.length);
    expect(items.every((e) => e.error === undefined)).toBe(true);
  });

  it('stat: false gives the same names and types from d_type', async () => {
    const dir = join(base, 'tricky', 'links');
    const { items } = await direct.items(fsLs, { path: dir, stat: false });
    const names = byteSet(items.map((e) => e.raw ?? Buffer.from(e.name)));
    const want = byteSet(splitNul((await run('find', [dir, '-mindepth', '1', '-maxdepth', '1', '-printf', '%f\\0'])).stdout));
    expect(names).toEqual(want);
    expect(items.every((e) => e.size === undefined)).toBe(true);
  });

  it('a 100k-entry directory streams in several batches and lists every name', async () => {
    const dir = join(base, 'huge');
    makeHugeDir(dir, 100_000);
    const { chunks, summary } = await direct.collect(fsLs, { path: dir });
    expect(chunks.length).toBeGreaterThanOrEqual(100_000 / direct.limits.streamBatchEntries);
    expect(summary.count).toBe(100_000);
    const got = chunks.flatMap(readLsBatch).map((e) => e.name);
    expect(new Set(got).size).toBe(100_000);
    const want = (await run('find', [dir, '-mindepth', '1', '-maxdepth', '1', '-printf', '%f\\n'])).stdout.toString().split('\n').filter(Boolean);
    expect(got.sort()).toEqual(want.sort());
  }, 120_000);
});
