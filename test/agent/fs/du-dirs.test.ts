/** DirTotals (agent/fs/du-dirs.ts) on entries given by hand: buckets, roll-up, order, roots with and without a slash, the cap. */
import { describe, expect, it } from 'vitest';
import { DirTotals, DU_MAX_DIRS } from '../../../agent/fs/du-dirs.js';
import { ProtocolError } from '../../../protocol/index.js';

type E = { path: string; prefix: string; raw: undefined; depth: number; type: string };

/** Entries for a root and `rel` paths below it (a trailing slash marks a directory), as the walk reports them. */
function entries(root: string, rels: string[]): E[] {
  const rootPrefix = root.endsWith('/') ? root : `${root}/`;
  const out: E[] = [{ path: root, prefix: '', raw: undefined, depth: 0, type: 'dir' }];
  for (const rel of rels) {
    const dir = rel.endsWith('/');
    const parts = rel.replace(/\/$/, '').split('/');
    const prefix =
      rootPrefix +
      parts
        .slice(0, -1)
        .map((p) => `${p}/`)
        .join('');
    out.push({ path: prefix + parts.at(-1)!, prefix, raw: undefined, depth: parts.length, type: dir ? 'dir' : 'file' });
  }
  return out;
}

function totals(root: string, rels: string[], maxDepth: number) {
  const t = new DirTotals(maxDepth);
  for (const e of entries(root, rels)) t.add(e, 1, 10);
  return t.totals().map((d) => [d.path, d.apparentBytes, d.allocatedBytes]);
}

const TREE = ['a/', 'a/f', 'a/b/', 'a/b/g', 'a/b/c/', 'a/b/c/h', 'z', 'y/', 'y/i'];

describe('DirTotals', () => {
  it('totals every directory down to the depth with everything below it, contents before their directory', () => {
    expect(totals('/r', TREE, 1)).toEqual([
      ['/r/a', 6, 60],
      ['/r/y', 2, 20],
      ['/r', 10, 100],
    ]);
    expect(totals('/r', TREE, 2).map((x) => x[0])).toEqual(['/r/a/b', '/r/a', '/r/y', '/r']);
    expect(totals('/r', TREE, 0)).toEqual([['/r', 10, 100]]);
    expect(totals('/r', TREE, 9).find((x) => x[0] === '/r/a/b/c')).toEqual(['/r/a/b/c', 2, 20]);
  });

  it('a root written with a trailing slash, and the filesystem root', () => {
    expect(totals('/r/', TREE, 1).map((x) => x[0])).toEqual(['/r/a', '/r/y', '/r/']);
    expect(totals('/', TREE, 1)).toEqual([
      ['/a', 6, 60],
      ['/y', 2, 20],
      ['/', 10, 100],
    ]);
  });

  it('a root that is not a directory is its own line', () => {
    const t = new DirTotals(3);
    t.add({ path: '/r/file', prefix: '', raw: undefined, depth: 0, type: 'file' }, 5, 4096);
    expect(t.totals()).toEqual([{ path: '/r/file', depth: 0, apparentBytes: 5, allocatedBytes: 4096 }]);
  });

  it(`refuses more than ${DU_MAX_DIRS} directories with TOO_LARGE`, () => {
    const t = new DirTotals(1);
    const es = entries(
      '/r',
      Array.from({ length: DU_MAX_DIRS }, (_, i) => `d${i}/`),
    );
    let thrown: unknown;
    try {
      for (const e of es) t.add(e, 1, 1);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ProtocolError);
    expect(thrown).toMatchObject({ code: 'TOO_LARGE', message: expect.stringMatching(/smaller depth/) });
  });
});
