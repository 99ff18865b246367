import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Owners } from '../../../agent/fs/index.js';
import { fsLs, readLsBatch, type DirEntry } from '../../../protocol/index.js';
import { createDirect } from '../../support/direct.js';
import { bpath, removeTree, tempDir } from '../../support/trees.js';
import { rejectsWith } from './helpers.js';

let home: string;
let direct: ReturnType<typeof createDirect>;
const BAD = Buffer.from([0x78, 0xfe, 0x79]);

beforeAll(() => {
  home = tempDir('clx-ls-');
  const d = join(home, 'd');
  mkdirSync(join(d, 'sub'), { recursive: true });
  writeFileSync(join(d, 'file'), '12345');
  symlinkSync('file', join(d, 'link'));
  symlinkSync(Buffer.from([0x74, 0xff]), join(d, 'badlink'));
  writeFileSync(bpath(d, BAD), 'x');
  writeFileSync(join(home, 'passwd'), `me:x:${process.getuid!()}:0::/:/bin/sh\n`);
  writeFileSync(join(home, 'group'), `us:x:${process.getgid!()}:\n`);
  direct = createDirect({ home, owners: new Owners({ passwdFile: join(home, 'passwd'), groupFile: join(home, 'group'), getent: false }) });
});
afterAll(() => removeTree(home));

const byName = (items: DirEntry[]): Record<string, DirEntry> => Object.fromEntries(items.map((e) => [e.name, e]));

describe('fs.ls', () => {
  it('lists every entry with lstat fields, names, symlink targets', async () => {
    const { items, summary } = await direct.items(fsLs, { path: 'd' });
    expect(summary.count).toBe(5);
    const e = byName(items);
    expect(e.file).toMatchObject({ type: 'file', size: 5, nlink: 1, owner: 'me', group: 'us' });
    expect(e.sub).toMatchObject({ type: 'dir' });
    expect(e.link).toMatchObject({ type: 'symlink', target: 'file', size: 4 });
    expect(e.badlink!.target).toBe('t\uFFFD');
    expect(Buffer.from(e.badlink!.targetRaw!)).toEqual(Buffer.from([0x74, 0xff]));
    const bad = items.find((x) => x.raw)!;
    expect(Buffer.from(bad.raw!)).toEqual(BAD);
    expect(bad.name).toBe('x\uFFFDy');
    expect(bad.size).toBe(1);
  });

  it('names: false leaves out owner and group', async () => {
    const { items } = await direct.items(fsLs, { path: 'd', names: false });
    expect(items.every((e) => e.owner === undefined && e.group === undefined && e.uid !== undefined)).toBe(true);
  });

  it('stat: false gives names and d_type only', async () => {
    const { items } = await direct.items(fsLs, { path: 'd', stat: false });
    expect(items.map((e) => [e.name, e.type]).sort()).toEqual([
      ['badlink', 'symlink'],
      ['file', 'file'],
      ['link', 'symlink'],
      ['sub', 'dir'],
      ['x\uFFFDy', 'file'],
    ]);
    expect(items.every((e) => e.size === undefined)).toBe(true);
  });

  it('lists a directory given as raw bytes', async () => {
    const dir = bpath(home, 'd', BAD.subarray(0, 0));
    const { items } = await direct.items(fsLs, { path: new Uint8Array(dir.subarray(0, dir.length - 1)) });
    expect(items).toHaveLength(5);
  });

  it('lists the target directory of a symlink, like ls link', async () => {
    symlinkSync('d', join(home, 'dlink'));
    const { items } = await direct.items(fsLs, { path: 'dlink' });
    expect(items).toHaveLength(5);
  });

  it('fails with ENOTDIR on a file (the CLI calls fs.lstat for that) and ENOENT when missing', async () => {
    const e = await rejectsWith(direct.collect(fsLs, { path: 'd/file' }), 'ENOTDIR');
    expect(e.message).toBe(`opendir ${home}/d/file: not a directory`);
    await rejectsWith(direct.collect(fsLs, { path: 'nope' }), 'ENOENT');
  });

  it('an entry removed between readdir and lstat comes with an ENOENT error; the listing goes on', async () => {
    const dir = join(home, 'vanishing');
    mkdirSync(dir);
    for (let i = 0; i < 300; i++) writeFileSync(join(dir, `f${i}`), '');
    let first = true;
    const { chunks, summary } = await createDirect({ home, limits: { streamBatchEntries: 1 } }).collect(
      fsLs,
      { path: dir },
      {
        send: async () => {
          if (first) for (let i = 0; i < 300; i++) rmSync(join(dir, `f${i}`), { force: true });
          first = false;
        },
      },
    );
    const items = chunks.flatMap(readLsBatch);
    expect(items).toHaveLength(300);
    expect(summary.count).toBe(300);
    const errors = items.filter((e) => e.error);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e.error!.code === 'ENOENT' && e.type === 'file')).toBe(true);
  });

  it('is cancellable mid-listing', async () => {
    const big = join(home, 'big');
    mkdirSync(big);
    for (let i = 0; i < 500; i++) writeFileSync(join(big, `f${i}`), '');
    const small = createDirect({ home, limits: { streamBatchEntries: 10 } });
    const controller = new AbortController();
    let after = 0;
    const run = small.collect(fsLs, { path: big }, { controller, send: async () => void (controller.signal.aborted ? after++ : controller.abort()) });
    await rejectsWith(run, 'CANCELLED');
    expect(after).toBe(0);
  });
});
