/** fs.du against `du -s -b` (apparentBytes) and `du -s -B1` (allocatedBytes). */
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fsDu } from '../../protocol/index.js';
import { createDirect } from '../support/direct.js';
import { cachedTree, makeHardlinkTree, makeSparseTree, makeTrickyTree, removeTree, tempDir } from '../support/trees.js';
import { run } from './helpers/gnu.js';

let base: string;
let direct: ReturnType<typeof createDirect>;

beforeAll(() => {
  base = tempDir('clx-parity-du-');
  makeTrickyTree(join(base, 'tricky'));
  makeSparseTree(join(base, 'sparse'));
  makeHardlinkTree(join(base, 'hardlinks'));
  // A directory symlink pointing at a big directory: du must count the link, not what it points to.
  mkdirSync(join(base, 'dirlink'));
  symlinkSync(join(base, 'sparse'), join(base, 'dirlink', 'to-sparse'));
  symlinkSync(join(base, 'sparse'), join(base, 'symlink-root'));
  direct = createDirect({ home: base });
});
afterAll(() => removeTree(base));

async function gnuDu(args: string[], path: string): Promise<number> {
  const r = await run('du', ['-s', ...args, '--', path]);
  expect(r.code).toBe(0);
  return Number(/^(\d+)/.exec(r.stdout.toString())![1]);
}

async function expectSame(path: string, extra: { xdev?: boolean } = {}): Promise<void> {
  const x = extra.xdev ? ['-x'] : [];
  const [b, b1, ours] = await Promise.all([gnuDu(['-b', ...x], path), gnuDu(['-B1', ...x], path), direct.collect(fsDu, { path, ...extra })]);
  expect({ apparent: ours.summary.apparentBytes, allocated: ours.summary.allocatedBytes }).toEqual({ apparent: b, allocated: b1 });
  expect(ours.summary.errors).toBe(0);
}

describe('fs.du matches GNU du', () => {
  it.each(['tricky', 'sparse', 'hardlinks', 'dirlink', 'symlink-root', 'tricky/files/lower.txt', 'tricky/links/broken'])('%s', async (rel) => {
    await expectSame(join(base, rel));
  });

  it('counts a 1 GiB sparse file by its size and by its few allocated blocks', async () => {
    const { summary } = await direct.collect(fsDu, { path: join(base, 'sparse') });
    expect(summary.apparentBytes).toBeGreaterThan(1024 ** 3);
    expect(summary.allocatedBytes).toBeLessThan(10 * 1024 ** 2);
  });

  it('counts each hard-linked inode once', async () => {
    const { summary } = await direct.collect(fsDu, { path: join(base, 'hardlinks') });
    // orig(+3 links) 10000 + single 5000 + pair(+1) 70000 + dirs + 2 symlinks
    expect(summary.files).toBe(7); // names: orig, link1-3, single, pair, pair2
    expect(summary.apparentBytes).toBeLessThan(10_000 * 2 + 5000 + 70_000 + 5 * 4096 + 200);
  });

  it('counts files, dirs, symlinks and others as GNU find -type does (tricky names, hard links, a fifo)', async () => {
    const dir = join(base, 'counts');
    mkdirSync(dir);
    const fifo = await run('mkfifo', [join(dir, 'pipe')]);
    expect(fifo.code).toBe(0);
    for (const rel of ['tricky', 'hardlinks', 'dirlink']) {
      const r = await run('cp', ['-a', join(base, rel), join(dir, rel)]);
      expect(r.code).toBe(0);
    }
    // One byte per entry: some tricky names hold newlines.
    const count = async (type: string) => (await run('find', [dir, '-type', type, '-printf', 'x'])).stdout.length;
    const { summary } = await direct.collect(fsDu, { path: dir });
    expect({ files: summary.files, dirs: summary.dirs, symlinks: summary.symlinks, other: summary.other }).toEqual({
      files: await count('f'),
      dirs: await count('d'),
      symlinks: await count('l'),
      other: (await count('p')) + (await count('s')) + (await count('b')) + (await count('c')),
    });
    expect(summary.other).toBeGreaterThan(0);
    await expectSame(dir);
  });

  it('-x on one filesystem is the same total', async () => {
    await expectSame(join(base, 'tricky'), { xdev: true });
  });

  it('matches on a generated 22k-entry tree', async () => {
    await expectSame(cachedTree({ entries: 22_200 }));
  }, 120_000);

  it('relative paths resolve against home', async () => {
    const { summary } = await direct.collect(fsDu, { path: 'hardlinks' });
    expect(summary.apparentBytes).toBe(await gnuDu(['-b'], join(base, 'hardlinks')));
  });
});

/** `du --max-depth=N` as path → size, NUL-separated (tricky names hold newlines). */
async function gnuByDir(args: string[], depth: number, path: string): Promise<Map<string, number>> {
  const r = await run('du', [...args, `--max-depth=${depth}`, '-0', '--', path]);
  expect(r.code).toBe(0);
  const m = new Map<string, number>();
  for (const rec of r.stdout.toString().split('\0').filter(Boolean)) {
    const tab = rec.indexOf('\t');
    m.set(rec.slice(tab + 1), Number(rec.slice(0, tab)));
  }
  return m;
}

describe('fs.du maxDepth matches GNU du --max-depth', () => {
  const cases = [
    ['tricky', [0, 1, 2, 9]],
    ['sparse', [1]],
    ['dirlink', [1]],
    ['tricky/files/lower.txt', [0, 3]],
  ] as const;
  for (const [rel, depths] of cases) {
    it.each(depths)(`${rel}, depth %i`, async (depth) => {
      const path = join(base, rel);
      const [b, b1, ours] = await Promise.all([gnuByDir(['-b'], depth, path), gnuByDir(['-B1'], depth, path), direct.collect(fsDu, { path, maxDepth: depth })]);
      const byDir = ours.summary.byDir!;
      expect(new Map(byDir.map((d) => [d.path, d.apparentBytes]))).toEqual(b);
      expect(new Map(byDir.map((d) => [d.path, d.allocatedBytes]))).toEqual(b1);
      // The root's line is the plain total.
      expect(byDir.at(-1)).toMatchObject({ path, depth: 0, apparentBytes: ours.summary.apparentBytes, allocatedBytes: ours.summary.allocatedBytes });
    });
  }

  it('a directory comes after everything inside it; siblings by name', async () => {
    const { summary } = await direct.collect(fsDu, { path: join(base, 'tricky'), maxDepth: 9 });
    const paths = summary.byDir!.map((d) => d.path);
    paths.forEach((p, i) => {
      for (const later of paths.slice(i + 1)) expect(p.startsWith(`${later}/`) || !later.startsWith(`${p}/`)).toBe(true);
    });
    const top = summary.byDir!.filter((d) => d.depth === 1).map((d) => d.path);
    expect(top).toEqual([...top].sort());
  });

  it('counts a hard-linked inode once, in the first directory that meets it', async () => {
    const path = join(base, 'hardlinks');
    const { summary } = await direct.collect(fsDu, { path, maxDepth: 1 });
    const root = summary.byDir!.at(-1)!;
    expect(root.apparentBytes).toBe(await gnuDu(['-b'], path));
    // Every byte of the root's total is in exactly one place: a subdirectory's line or the root's own entries.
    const children = summary.byDir!.filter((d) => d.depth === 1).reduce((n, d) => n + d.apparentBytes, 0);
    expect(children).toBeLessThanOrEqual(root.apparentBytes);
  });

  it('matches on a generated 22k-entry tree at depth 2', async () => {
    const path = cachedTree({ entries: 22_200 });
    const [b1, ours] = await Promise.all([gnuByDir(['-B1'], 2, path), direct.collect(fsDu, { path, maxDepth: 2 })]);
    expect(new Map(ours.summary.byDir!.map((d) => [d.path, d.allocatedBytes]))).toEqual(b1);
  }, 120_000);
});
