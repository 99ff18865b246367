import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsThreads } from '../../../agent/fs/fs-threads.js';
import { fsCount, fsFind, type FindEntry } from '../../../protocol/index.js';
import { createDirect, entriesOf } from '../../support/direct.js';
import { makeLoopTree, makeTree, removeTree, tempDir } from '../../support/trees.js';
import { rejectsWith, turns } from './helpers.js';

let home: string;
let big: string;
let direct: ReturnType<typeof createDirect>;
/** Tiny batches, so a walk sends many chunks. */
let small: ReturnType<typeof createDirect>;
const BIG_ENTRIES = 3000;

beforeAll(() => {
  home = tempDir('clx-find-');
  big = join(home, 'big');
  makeTree(big, { entries: BIG_ENTRIES, maxFileBytes: 0 });
  mkdirSync(join(home, 'small', 'sub'), { recursive: true });
  writeFileSync(join(home, 'small', 'a.txt'), 'aaaa');
  writeFileSync(join(home, 'small', 'sub', 'b.txt'), 'bb');
  symlinkSync('a.txt', join(home, 'small', 'link'));
  makeLoopTree(join(home, 'loops'));
  direct = createDirect({ home });
  small = createDirect({ home, limits: { streamBatchEntries: 10 } });
});
afterAll(() => removeTree(home));

const paths = (items: FindEntry[]): string[] =>
  items
    .filter((e) => !e.error)
    .map((e) => e.path)
    .sort();

describe('fs.find', () => {
  it('reports the root at depth 0 and every entry with its type and depth', async () => {
    const { items, summary } = await direct.items(fsFind, { root: 'small' });
    expect(items.map((e) => [e.path, e.type, e.depth]).sort()).toEqual([
      ['small', 'dir', 0],
      ['small/a.txt', 'file', 1],
      ['small/link', 'symlink', 1],
      ['small/sub', 'dir', 1],
      ['small/sub/b.txt', 'file', 2],
    ]);
    expect(summary).toMatchObject({ matched: 5, visited: 5, errors: 0, truncated: false });
    expect(items[0]!.size).toBeUndefined(); // no stat unless asked
  });

  it('stat: true adds lstat fields (the link itself, or its target with follow)', async () => {
    const { items } = await direct.items(fsFind, { root: 'small', stat: true, name: 'link' });
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ type: 'symlink', size: 5 });
    expect(items[0]!.mtimeMs).toBeGreaterThan(0);
    const followed = await direct.items(fsFind, { root: 'small', stat: true, name: 'link', follow: true });
    expect(followed.items[0]).toMatchObject({ type: 'file', size: 4 });
  });

  it('a file root yields just the file; a missing root fails with ENOENT', async () => {
    expect(paths((await direct.items(fsFind, { root: 'small/a.txt' })).items)).toEqual(['small/a.txt']);
    const e = await rejectsWith(direct.items(fsFind, { root: 'nope' }), 'ENOENT');
    expect(e.message).toBe(`lstat ${home}/nope: no such file or directory`);
  });

  it('limit stops the walk and says so; a limit equal to the count does not truncate', async () => {
    const cut = await direct.items(fsFind, { root: big, limit: 7 });
    expect(cut.items).toHaveLength(7);
    expect(cut.summary).toMatchObject({ matched: 7, truncated: true });
    expect(cut.summary.visited).toBeLessThan(BIG_ENTRIES);
    const exact = await direct.items(fsFind, { root: 'small', limit: 5 });
    expect(exact.summary).toMatchObject({ matched: 5, truncated: false });
    const zero = await direct.items(fsFind, { root: 'small', limit: 0 });
    expect(zero.items).toHaveLength(0);
    expect(zero.summary.truncated).toBe(true);
  });

  it('cancellation stops the walk at once: the call rejects CANCELLED and nothing is sent after the abort', async () => {
    const controller = new AbortController();
    let sendsAfterAbort = 0;
    let aborted = false;
    const run = small.collect(
      fsFind,
      { root: big },
      {
        controller,
        send: async () => {
          if (aborted) sendsAfterAbort++;
          aborted = true;
          controller.abort();
        },
      },
    );
    const e = await rejectsWith(run, 'CANCELLED');
    expect(e.message).toMatch(/^fs\.find cancelled after \d+ entries$/);
    await turns(); // completions still in flight must not reach the client
    expect(sendsAfterAbort).toBe(0);
  });

  it('an already aborted signal fails before any I/O', async () => {
    const controller = new AbortController();
    controller.abort();
    await rejectsWith(direct.collect(fsFind, { root: big }, { controller }), 'CANCELLED');
  });

  it('timeLimitMs ends the walk with TIMEOUT (here while waiting for credit that never comes)', async () => {
    const never = new Promise<void>(() => {});
    const e = await rejectsWith(small.collect(fsFind, { root: big, timeLimitMs: 20 }, { send: () => never }), 'TIMEOUT');
    expect(e.message).toMatch(/^fs\.find: time limit of 20 ms reached after \d+ entries$/);
    expect(e.details).toMatchObject({ timeLimitMs: 20 });
  });

  it('holds the walk while the client has no credit, then delivers every entry exactly once', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let sends = 0;
    let firstSent!: () => void;
    const first = new Promise<void>((r) => (firstSent = r));
    const run = small.collect(
      fsFind,
      { root: big },
      {
        send: () => {
          if (++sends > 1) return Promise.resolve();
          firstSent();
          return gate;
        },
      },
    );
    await first;
    await turns(50); // give a walk that ignored backpressure every chance to send more
    expect(sends).toBe(1); // one batch out, the walk waits for its credit
    release();
    const { chunks, summary } = await run;
    const all = (entriesOf(chunks) as FindEntry[]).map((e) => e.path);
    expect(all).toHaveLength(BIG_ENTRIES + 1);
    expect(new Set(all).size).toBe(BIG_ENTRIES + 1);
    expect(summary.matched).toBe(BIG_ENTRIES + 1);
  });

  it('follow: loops become ELOOP error entries, the walk goes on', async () => {
    const { items, summary } = await direct.items(fsFind, { root: 'loops', follow: true });
    const errors = items.filter((e) => e.error);
    expect(errors.map((e) => [e.path, e.error!.code]).sort()).toEqual([
      ['loops/d/self', 'ELOOP'],
      ['loops/d/sub/up', 'ELOOP'],
      ['loops/entry/self', 'ELOOP'],
      ['loops/entry/sub/up', 'ELOOP'],
      ['loops/loop-a', 'ELOOP'],
      ['loops/loop-b', 'ELOOP'],
    ]);
    expect(paths(items)).toContain('loops/entry/sub/deep');
    expect(items.find((e) => e.path === 'loops/broken')?.type).toBe('symlink');
    expect(summary.errors).toBe(6);
  });

  it('prune keeps the directory in the results but does not enter it', async () => {
    const { items } = await direct.items(fsFind, { root: 'small', prune: ['sub'] });
    expect(paths(items)).toEqual(['small', 'small/a.txt', 'small/link', 'small/sub']);
  });

  it('an entry that vanishes between readdir and its stat is an error entry, not a failure', async () => {
    // follow: the links are listed by a readdir job and stat'ed by a stat job afterwards.
    const dir = join(home, 'vanish');
    mkdirSync(dir);
    writeFileSync(join(dir, 'target'), '');
    for (let i = 0; i < 50; i++) symlinkSync('target', join(dir, `f${i}`));
    // fs threads whose stat jobs run just after half the links were removed.
    const real = new FsThreads();
    const threads = Object.assign(Object.create(real) as FsThreads, {
      stat: (job: Parameters<FsThreads['stat']>[0], signal?: AbortSignal) => {
        for (let i = 0; i < 25; i++) rmSync(join(dir, `f${i}`), { force: true });
        return real.stat(job, signal);
      },
      readdir: real.readdir.bind(real),
    });
    try {
      const { items, summary } = await createDirect({ home, threads }).items(fsFind, { root: dir, follow: true });
      const errors = items.filter((e) => e.error);
      expect(errors).toHaveLength(25);
      // stat said ENOENT, so it was checked again as a dangling link: lstat says ENOENT too.
      expect(errors.every((e) => e.error!.code === 'ENOENT' && e.error!.message.startsWith(`lstat ${dir}/f`))).toBe(true);
      expect(items.length).toBe(52); // the root, target, and each link once: as a result or as an error
      expect(summary.errors).toBe(25);
    } finally {
      await real.close();
    }
  });

  it('rejects bad filters with INVALID_PARAMS', async () => {
    await rejectsWith(direct.collect(fsFind, { root: '.', maxDepth: -1 }), 'INVALID_PARAMS');
    await rejectsWith(direct.collect(fsFind, { root: '.', type: 'banana' }), 'INVALID_PARAMS');
    await rejectsWith(direct.collect(fsFind, { root: '.', name: '' }), 'INVALID_PARAMS');
    await rejectsWith(direct.collect(fsFind, { root: 7 as never }), 'INVALID_PARAMS');
    await rejectsWith(direct.collect(fsFind, { root: '.', timeLimitMs: 0 }), 'INVALID_PARAMS');
  });
});

describe('fs.count', () => {
  it('counts what find would match, by type, without sending entries', async () => {
    const { chunks, summary } = await direct.collect(fsCount, { root: 'small' });
    expect(chunks).toEqual([]); // progress only after a second
    expect(summary).toMatchObject({ total: 5, files: 2, dirs: 2, symlinks: 1, other: 0, errors: 0 });
    const filtered = await direct.collect(fsCount, { root: big, name: '*.dat', minDepth: 2 });
    const found = await direct.items(fsFind, { root: big, name: '*.dat', minDepth: 2 });
    expect(filtered.summary.total).toBe(found.summary.matched);
  });

  it('counts loop errors under follow', async () => {
    const { summary } = await direct.collect(fsCount, { root: 'loops', follow: true });
    expect(summary.errors).toBe(6);
  });

  it('is cancellable', async () => {
    const controller = new AbortController();
    const run = direct.collect(fsCount, { root: big }, { controller });
    controller.abort();
    await rejectsWith(run, 'CANCELLED');
  });
});
