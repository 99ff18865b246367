import { linkSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fsDu, fsGlob } from '../../../protocol/index.js';
import { createDirect } from '../../support/direct.js';
import { makeTree, removeTree, tempDir } from '../../support/trees.js';
import { rejectsWith } from './helpers.js';

let home: string;
let direct: ReturnType<typeof createDirect>;

beforeAll(() => {
  home = tempDir('clx-du-glob-');
  mkdirSync(join(home, 't', 'sub'), { recursive: true });
  writeFileSync(join(home, 't', 'a'), Buffer.alloc(1000));
  linkSync(join(home, 't', 'a'), join(home, 't', 'sub', 'a-again'));
  symlinkSync('a', join(home, 't', 'l'));
  makeTree(join(home, 'big'), { entries: 2000, maxFileBytes: 0 });
  direct = createDirect({ home });
});
afterAll(() => removeTree(home));

describe('fs.du', () => {
  it('counts entries by type and hard links once', async () => {
    const { summary } = await direct.collect(fsDu, { path: 't' });
    expect(summary).toMatchObject({ files: 2, dirs: 2, symlinks: 1, other: 0, errors: 0, firstErrors: [] });
    const dirs = statSync(join(home, 't')).size + statSync(join(home, 't', 'sub')).size;
    expect(summary.apparentBytes).toBe(1000 + 1 + dirs); // a once, the link's 1 byte, the two directories
  });

  it('of a file is its size; of a missing path is ENOENT', async () => {
    expect((await direct.collect(fsDu, { path: 't/a' })).summary.apparentBytes).toBe(1000);
    await rejectsWith(direct.collect(fsDu, { path: 'missing' }), 'ENOENT');
  });

  it('is cancellable', async () => {
    const controller = new AbortController();
    const run = direct.collect(fsDu, { path: 'big' }, { controller });
    controller.abort();
    await rejectsWith(run, 'CANCELLED');
  });

  it('ends with TIMEOUT when its time limit runs out (fake clock: the limit passes before any I/O completes)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const run = direct.collect(fsDu, { path: 'big', timeLimitMs: 5 });
      vi.advanceTimersByTime(5);
      const e = await rejectsWith(run, 'TIMEOUT');
      expect(e.message).toMatch(/^fs\.du: time limit of 5 ms reached/);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('fs.glob', () => {
  it('lists matches with their types and depth', async () => {
    const { items, summary } = await direct.items(fsGlob, { pattern: 't/**', dot: false });
    expect(items.map((e) => [e.path, e.type, e.depth])).toEqual([
      ['t/', 'dir', 1],
      ['t/a', 'file', 2],
      ['t/l', 'symlink', 2],
      ['t/sub', 'dir', 2],
      ['t/sub/a-again', 'file', 3],
    ]);
    expect(summary).toMatchObject({ matched: 5, truncated: false, errors: 0 });
  });

  it('cwd may be relative to home; an unreadable or missing directory yields nothing', async () => {
    expect((await direct.items(fsGlob, { pattern: '*', cwd: 't/sub' })).items.map((e) => e.path)).toEqual(['a-again']);
    expect((await direct.items(fsGlob, { pattern: '*', cwd: 'nope' })).items).toEqual([]);
  });

  it('is cancellable', async () => {
    const controller = new AbortController();
    controller.abort();
    await rejectsWith(direct.collect(fsGlob, { pattern: 'big/**' }, { controller }), 'CANCELLED');
  });

  it('rejects bad params with INVALID_PARAMS', async () => {
    await rejectsWith(direct.collect(fsGlob, { pattern: '' }), 'INVALID_PARAMS');
    await rejectsWith(direct.collect(fsGlob, { pattern: '*', limit: 1.5 }), 'INVALID_PARAMS');
  });
});
