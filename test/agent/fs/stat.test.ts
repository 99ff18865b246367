import { mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Owners } from '../../../agent/fs/index.js';
import { fsExists, fsIsDir, fsIsFile, fsLstat, fsReadlink, fsRealpath, fsStat, fsStatMany, readStatMany } from '../../../protocol/index.js';
import { createDirect } from '../../support/direct.js';
import { bpath, removeTree, tempDir } from '../../support/trees.js';
import { rejectsWith } from './helpers.js';

let home: string;
let direct: ReturnType<typeof createDirect>;
const BAD = Buffer.from([0x62, 0x61, 0x64, 0xff]); // "bad\xff"

beforeAll(() => {
  home = tempDir('clx-stat-');
  mkdirSync(join(home, 'dir'));
  writeFileSync(join(home, 'dir', 'file'), 'hello');
  symlinkSync('file', join(home, 'dir', 'link'));
  symlinkSync('missing', join(home, 'dir', 'dangling'));
  symlinkSync('loop2', join(home, 'dir', 'loop1'));
  symlinkSync('loop1', join(home, 'dir', 'loop2'));
  writeFileSync(bpath(home, BAD), 'raw');
  symlinkSync(bpath(home, BAD), join(home, 'to-bad'));
  const owners = new Owners({ passwdFile: join(home, 'passwd'), groupFile: join(home, 'group'), getent: false });
  writeFileSync(join(home, 'passwd'), `someone:x:${process.getuid!()}:0::/:/bin/sh\n`);
  writeFileSync(join(home, 'group'), `somegroup:x:${process.getgid!()}:\n`);
  direct = createDirect({ home, owners });
});
afterAll(() => removeTree(home));

describe('fs.stat / fs.lstat', () => {
  it('returns lstat fields, owner and group names', async () => {
    const info = await direct.call(fsLstat, { path: join(home, 'dir', 'file') });
    const st = statSync(join(home, 'dir', 'file'));
    expect(info).toMatchObject({ type: 'file', size: 5, mode: st.mode, ino: st.ino, nlink: 1, owner: 'someone', group: 'somegroup' });
    expect(info.target).toBeUndefined();
  });

  it('lstat describes a symlink and its target; stat follows it', async () => {
    expect(await direct.call(fsLstat, { path: 'dir/link' })).toMatchObject({ type: 'symlink', target: 'file', size: 4 });
    expect(await direct.call(fsStat, { path: 'dir/link' })).toMatchObject({ type: 'file', size: 5 });
  });

  it('resolves relative paths and ~ against home', async () => {
    const a = await direct.call(fsStat, { path: '~/dir/file' });
    const b = await direct.call(fsStat, { path: 'dir/file' });
    const c = await direct.call(fsStat, { path: '~' });
    expect(a.ino).toBe(b.ino);
    expect(c.ino).toBe(statSync(home).ino);
  });

  it('takes raw bytes for names that are not UTF-8, and returns targets as raw bytes', async () => {
    const info = await direct.call(fsStat, { path: new Uint8Array(bpath(home, BAD)) });
    expect(info.size).toBe(3);
    const link = await direct.call(fsLstat, { path: 'to-bad' });
    expect(Buffer.from(link.targetRaw!)).toEqual(bpath(home, BAD));
    expect(link.target).toBe(`${home}/bad\uFFFD`);
  });

  it('ENOENT, ENOTDIR and ELOOP keep their errno code and name the path', async () => {
    const e = await rejectsWith(direct.call(fsStat, { path: join(home, 'nope') }), 'ENOENT');
    expect(e.message).toBe(`stat ${home}/nope: no such file or directory`);
    await rejectsWith(direct.call(fsLstat, { path: 'dir/file/below' }), 'ENOTDIR');
    await rejectsWith(direct.call(fsStat, { path: 'dir/loop1' }), 'ELOOP');
    await rejectsWith(direct.call(fsStat, { path: 'dir/dangling' }), 'ENOENT');
  });

  it('rejects bad params with INVALID_PARAMS', async () => {
    const e = await rejectsWith(direct.call(fsStat, { path: 42 } as never), 'INVALID_PARAMS');
    expect(e.message).toContain('params.path');
    await rejectsWith(direct.call(fsStat, { path: '' }), 'INVALID_PARAMS');
    await rejectsWith(direct.call(fsStat, { path: 'a\0b' }), 'INVALID_PARAMS');
  });
});

describe('fs.exists / fs.isdir / fs.isfile', () => {
  it('answer like test -e, -d, -f', async () => {
    expect(await direct.call(fsExists, { path: 'dir/file' })).toBe(true);
    expect(await direct.call(fsExists, { path: 'dir/link' })).toBe(true);
    expect(await direct.call(fsExists, { path: 'dir/dangling' })).toBe(false);
    expect(await direct.call(fsExists, { path: 'dir/loop1' })).toBe(false);
    expect(await direct.call(fsExists, { path: 'dir/file/x' })).toBe(false);
    expect(await direct.call(fsIsDir, { path: 'dir' })).toBe(true);
    expect(await direct.call(fsIsDir, { path: 'dir/file' })).toBe(false);
    expect(await direct.call(fsIsDir, { path: 'nope' })).toBe(false);
    expect(await direct.call(fsIsFile, { path: 'dir/link' })).toBe(true);
    expect(await direct.call(fsIsFile, { path: 'dir' })).toBe(false);
  });
});

describe('fs.realpath / fs.readlink', () => {
  it('resolve symlinks', async () => {
    expect(await direct.call(fsRealpath, { path: 'dir/link' })).toEqual({ path: join(home, 'dir', 'file') });
    expect(await direct.call(fsReadlink, { path: 'dir/link' })).toEqual({ path: 'file' });
    expect(await direct.call(fsReadlink, { path: 'dir/dangling' })).toEqual({ path: 'missing' });
  });

  it('return raw bytes for targets that are not UTF-8', async () => {
    const r = await direct.call(fsReadlink, { path: 'to-bad' });
    expect(Buffer.from(r.raw!)).toEqual(bpath(home, BAD));
    const rp = await direct.call(fsRealpath, { path: 'to-bad' });
    expect(Buffer.from(rp.raw!)).toEqual(bpath(home, BAD));
  });

  it('fail with the errno code', async () => {
    await rejectsWith(direct.call(fsReadlink, { path: 'dir/file' }), 'EINVAL');
    await rejectsWith(direct.call(fsRealpath, { path: 'dir/dangling' }), 'ENOENT');
  });
});

describe('fs.statMany', () => {
  it('answers each path exactly as fs.stat / fs.lstat alone would, errors included', async () => {
    const paths = ['dir/file', 'dir/link', 'dir/dangling', 'dir/loop1', 'nope', 'dir', 'to-bad'];
    for (const follow of [true, false]) {
      const items = readStatMany(await direct.call(fsStatMany, { paths, follow }), paths.length);
      const alone = await Promise.all(
        paths.map((path) =>
          direct.call(follow ? fsStat : fsLstat, { path }).then(
            (info) => info,
            (err: { toWire(): unknown }) => ({ error: err.toWire() }),
          ),
        ),
      );
      expect(items).toEqual(alone);
    }
  });
});
