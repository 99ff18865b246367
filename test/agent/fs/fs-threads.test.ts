import { linkSync, lstatSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STAT_FIELDS } from '../../../agent/fs/fs-thread-code.js';
import { DirStat, FsThreads } from '../../../agent/fs/fs-threads.js';
import { statRecordAt } from '../../../agent/fs/info.js';
import { FILE_TYPES } from '../../../protocol/index.js';
import { bpath, removeTree, tempDir } from '../../support/trees.js';

let home: string;
const pools: FsThreads[] = [];
const pool = (o?: ConstructorParameters<typeof FsThreads>[0]): FsThreads => {
  const p = new FsThreads(o);
  pools.push(p);
  return p;
};

beforeAll(() => {
  home = tempDir('clx-threads-');
  mkdirSync(join(home, 'd', 'sub'), { recursive: true });
  writeFileSync(join(home, 'd', 'f'), 'abc');
  symlinkSync('f', join(home, 'd', 'link'));
  symlinkSync('nowhere', join(home, 'd', 'dangling'));
  mkdirSync(join(home, 'bytes'));
  writeFileSync(bpath(join(home, 'bytes'), Buffer.from([0x66, 0xff])), '');
  mkdirSync(join(home, 'h', 's'), { recursive: true });
  writeFileSync(join(home, 'h', 'a'), 'hello');
  linkSync(join(home, 'h', 'a'), join(home, 'h', 'b'));
  writeFileSync(join(home, 'h', 'c'), 'xy');
  writeFileSync(join(home, 'h', 'e'), Buffer.alloc(10_000));
  symlinkSync('target-name', join(home, 'h', 'l'));
  writeFileSync(bpath(join(home, 'h', 's'), Buffer.from([0x67, 0xfe])), 'zz');
  mkdirSync(join(home, 'h', 's', 'deeper'));
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  removeTree(home);
});

describe('fs threads', () => {
  it('read whole directories: names joined by NUL with their types; a failure per directory', async () => {
    const [d, missing] = await pool().readdir([join(home, 'd'), join(home, 'nope')], [false, false]);
    if (!d || !('names' in d)) throw new Error('expected names');
    const got = d.names.split('\0').map((n, i) => [n, FILE_TYPES[d.types[i]!]]);
    expect(got.sort()).toEqual([
      ['dangling', 'symlink'],
      ['f', 'file'],
      ['link', 'symlink'],
      ['sub', 'dir'],
    ]);
    expect(missing).toEqual({ err: ['ENOENT', expect.stringContaining('ENOENT') as unknown, 'opendir'] });
  });

  it('return the exact bytes of a directory holding a name that is not UTF-8', async () => {
    const [r] = await pool().readdir([join(home, 'bytes')], [false]);
    if (!r || !('raw' in r)) throw new Error('expected raw names');
    expect(r.raw.map((b) => Buffer.from(b).toString('hex'))).toEqual(['66ff']);
  });

  it('stat every entry in the same pass when asked: lstat, or stat with dangling links as lstat; byte names too', async () => {
    const p = pool();
    const [l] = await p.readdir([join(home, 'd')], [false], undefined, DirStat.Lstat);
    const [s] = await p.readdir([join(home, 'd')], [false], undefined, DirStat.Stat);
    const [b] = await p.readdir([join(home, 'bytes')], [false], undefined, DirStat.Stat);
    const byName = (r: typeof l) => {
      if (!r || !('names' in r) || !r.st) throw new Error('expected names with stats');
      return Object.fromEntries(r.names.split('\0').map((n, i) => [n, statRecordAt(r.st!, i).mode & 0o170000]));
    };
    expect(byName(l)).toEqual({ dangling: 0o120000, f: 0o100000, link: 0o120000, sub: 0o040000 });
    expect(byName(s)).toEqual({ dangling: 0o120000, f: 0o100000, link: 0o100000, sub: 0o040000 });
    if (!b || !('raw' in b) || !b.st) throw new Error('expected raw names with stats');
    expect(b.errs ?? null).toBeNull();
    expect(statRecordAt(b.st, 0).mode & 0o170000).toBe(0o100000);
  });

  it('fold (du): sum the non-directories with one link, and return directories and hard links as entries with their stats', async () => {
    const p = pool();
    const [h, s] = await p.readdir([join(home, 'h'), join(home, 'h', 's')], [false, false], undefined, DirStat.Lstat, true);
    if (!h || !('names' in h) || !h.st || !h.sum) throw new Error('expected names, stats and a sum');
    const kept = h.names.split('\0').map((n, i) => [n, FILE_TYPES[h.types[i]!], statRecordAt(h.st!, i).size]);
    expect(kept.sort()).toEqual([
      ['a', 'file', 5],
      ['b', 'file', 5],
      ['s', 'dir', lstatSync(join(home, 'h', 's')).size],
    ]);
    expect(h.st.length).toBe(3 * STAT_FIELDS);
    const folded = ['c', 'e', 'l'].map((n) => lstatSync(join(home, 'h', n)));
    expect(h.sum).toEqual([2, 1, 0, 2 + 10_000 + 'target-name'.length, folded.reduce((t, st) => t + st.blocks * 512, 0)]);
    // A name that is not UTF-8: the raw list is folded the same way.
    if (!s || !('raw' in s) || !s.st || !s.sum) throw new Error('expected raw names, stats and a sum');
    expect(s.raw.map((b) => Buffer.from(b).toString())).toEqual(['deeper']);
    expect(s.sum.slice(0, 4)).toEqual([1, 0, 0, 2]);
    // Without fold nothing is summed or left out.
    const [whole] = await p.readdir([join(home, 'h')], [false], undefined, DirStat.Lstat);
    if (!whole || !('names' in whole)) throw new Error('expected names');
    expect(whole.sum).toBeUndefined();
    expect(whole.names.split('\0').length).toBe(6);
  });

  it('stat a batch with one answer or error per path, in order; dangling links fall back to lstat when asked', async () => {
    const paths = [join(home, 'd', 'f'), join(home, 'd', 'nope'), join(home, 'd', 'dangling'), join(home, 'd', 'link')];
    const a = await pool().stat({ paths, follow: true });
    expect(a.st.length).toBe(paths.length * STAT_FIELDS);
    expect(statRecordAt(a.st, 0).size).toBe(3);
    expect(a.errs?.[1]).toEqual(['ENOENT', '', 'stat']);
    expect(a.errs?.[2]).toEqual(['ENOENT', '', 'stat']);
    expect(statRecordAt(a.st, 3).size).toBe(3); // followed to f
    const d = await pool().stat({ paths, follow: true, dangling: true });
    expect(d.errs?.[1]).toEqual(['ENOENT', '', 'lstat']);
    expect(statRecordAt(d.st, 2).mode & 0o170000).toBe(0o120000);
    const l = await pool().stat({ paths, follow: false, links: true });
    expect(Buffer.from(l.targets![3]!).toString()).toBe('f');
    expect(l.targets![0]).toBeNull();
  });

  it('answer every job once when jobs queued behind slow ones are run again elsewhere', async () => {
    // slowMs 0: every running job counts as slow at once, so queued jobs are always rescued.
    const p = pool({ slowMs: 0, maxThreads: 2 });
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => p.stat({ paths: [join(home, 'd', i % 2 ? 'f' : 'nope')], follow: false })));
    answers.forEach((a, i) => (i % 2 ? expect(statRecordAt(a.st, 0).size).toBe(3) : expect(a.errs?.[0]?.[0]).toBe('ENOENT')));
    expect(p.size).toBeLessThanOrEqual(2);
  });

  it('keep a backlog one pipeline deep on one thread, spread a deeper one over `parallel` threads, and no more while none is slow', async () => {
    const jobs = (p: FsThreads, n: number) => Promise.all(Array.from({ length: n }, () => p.readdir([join(home, 'd')], [false])));
    const small = pool({ slowMs: 60_000 });
    await jobs(small, 4);
    expect(small.size).toBe(1);
    const big = pool({ slowMs: 60_000, spreadAfterMs: 0 });
    const answers = await jobs(big, 40);
    expect(answers.every(([r]) => r !== undefined && 'names' in r)).toBe(true);
    expect(big.size).toBe(2);
    const one = pool({ slowMs: 60_000, parallel: 1, spreadAfterMs: 0 });
    await jobs(one, 40);
    expect(one.size).toBe(1);
    // A backlog drained before it kept the thread busy for spreadAfterMs starts no second thread.
    const brief = pool({ slowMs: 60_000, spreadAfterMs: 60_000 });
    await jobs(brief, 40);
    expect(brief.size).toBe(1);
  });

  it('let every thread exit when idle, also one started for a backlog that was gone before it ran', async () => {
    const p = pool({ idleMs: 10, slowMs: 60_000, spreadAfterMs: 0 });
    await Promise.all(Array.from({ length: 40 }, () => p.readdir([join(home, 'd')], [false])));
    for (let i = 0; i < 300 && p.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(p.size).toBe(0);
  });

  it('start more threads than `parallel` only when the busy ones have been busy for slowMs', async () => {
    const eager = pool({ slowMs: 0, maxThreads: 3, parallel: 1 });
    await Promise.all(Array.from({ length: 6 }, () => eager.readdir([join(home, 'd')], [false])));
    expect(eager.size).toBeGreaterThan(1);
    expect(eager.size).toBeLessThanOrEqual(3);
  });

  it('drop a job cancelled while it waits, and let idle threads exit', async () => {
    const p = pool({ idleMs: 10, slowMs: 60_000, parallel: 1 });
    const ac = new AbortController();
    // One thread, four jobs outstanding on it: the fifth waits in the queue.
    const sent = Array.from({ length: 4 }, () => p.readdir([join(home, 'd')], [false]));
    const waiting = p.readdir([join(home, 'd')], [false], ac.signal);
    ac.abort(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
    await Promise.all(sent);
    for (let i = 0; i < 200 && p.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(p.size).toBe(0);
  });

  it('reject a job cancelled while its thread runs it, and keep answering the jobs after it', async () => {
    const p = pool({ slowMs: 60_000 });
    const ac = new AbortController();
    const running = p.stat({ paths: [join(home, 'd', 'f')], follow: false }, ac.signal);
    const next = p.stat({ paths: [join(home, 'd', 'f')], follow: false });
    ac.abort(new Error('not wanted'));
    await expect(running).rejects.toThrow('not wanted');
    expect(statRecordAt((await next).st, 0).size).toBe(3);
  });

  it('reject every job with SHUTTING_DOWN on close', async () => {
    const p = pool();
    const jobs = Array.from({ length: 3 }, () => p.readdir([join(home, 'd')], [false]).catch((e: unknown) => e));
    await p.close();
    for (const j of jobs) expect(await j).toMatchObject({ code: 'SHUTTING_DOWN' });
  });
});
