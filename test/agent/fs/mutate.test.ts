import { existsSync, linkSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { fsMkdir, fsRename, fsRm } from '../../../protocol/index.js';
import { createDirect } from '../../support/direct.js';
import { bpath, removeTree, tempDir } from '../../support/trees.js';
import { rejectsWith } from './helpers.js';

const homes: string[] = [];
let home: string;
let direct: ReturnType<typeof createDirect>;

beforeEach(() => {
  home = tempDir('clx-mutate-');
  homes.push(home);
  direct = createDirect({ home });
});
afterAll(() => homes.forEach(removeTree));

describe('fs.mkdir', () => {
  it('creates parents by default and says whether it created anything', async () => {
    expect(await direct.call(fsMkdir, { path: 'a/b/c' })).toEqual({ created: true });
    expect(statSync(join(home, 'a/b/c')).isDirectory()).toBe(true);
    expect(await direct.call(fsMkdir, { path: 'a/b/c' })).toEqual({ created: false });
  });

  it('without parents: EEXIST if it exists, ENOENT if the parent is missing', async () => {
    expect(await direct.call(fsMkdir, { path: 'one', parents: false })).toEqual({ created: true });
    await rejectsWith(direct.call(fsMkdir, { path: 'one', parents: false }), 'EEXIST');
    await rejectsWith(direct.call(fsMkdir, { path: 'x/y', parents: false }), 'ENOENT');
  });

  it('fails when a file is in the way', async () => {
    writeFileSync(join(home, 'file'), '');
    await rejectsWith(direct.call(fsMkdir, { path: 'file' }), 'EEXIST');
    await rejectsWith(direct.call(fsMkdir, { path: 'file/sub' }), 'ENOTDIR');
  });

  it('applies the mode (through the umask, like mkdir -m under a umask of 022)', async () => {
    await direct.call(fsMkdir, { path: 'private', mode: 0o700 });
    expect(statSync(join(home, 'private')).mode & 0o777).toBe(0o700);
  });

  it('makes a directory whose name is not UTF-8', async () => {
    const name = Buffer.from([0x64, 0xff]);
    await direct.call(fsMkdir, { path: new Uint8Array(bpath(home, name)) });
    expect(statSync(bpath(home, name)).isDirectory()).toBe(true);
  });
});

describe('fs.rm', () => {
  it('removes files and symlinks (not their targets)', async () => {
    writeFileSync(join(home, 'f'), '');
    symlinkSync('f', join(home, 'l'));
    expect(await direct.call(fsRm, { path: 'l' })).toEqual({ removed: true });
    expect(existsSync(join(home, 'f'))).toBe(true);
    expect(await direct.call(fsRm, { path: 'f' })).toEqual({ removed: true });
    expect(existsSync(join(home, 'f'))).toBe(false);
  });

  it('removes an empty directory without recursive, a full one only with it', async () => {
    mkdirSync(join(home, 'empty'));
    mkdirSync(join(home, 'full/sub'), { recursive: true });
    writeFileSync(join(home, 'full/sub/x'), '');
    expect(await direct.call(fsRm, { path: 'empty' })).toEqual({ removed: true });
    await rejectsWith(direct.call(fsRm, { path: 'full' }), 'ENOTEMPTY');
    expect(existsSync(join(home, 'full/sub/x'))).toBe(true);
    expect(await direct.call(fsRm, { path: 'full', recursive: true })).toEqual({ removed: true });
    expect(existsSync(join(home, 'full'))).toBe(false);
  });

  it('ENOENT when missing, unless force', async () => {
    await rejectsWith(direct.call(fsRm, { path: 'ghost' }), 'ENOENT');
    expect(await direct.call(fsRm, { path: 'ghost', force: true })).toEqual({ removed: false });
  });

  it('removing a symlink to a directory removes the link only, even with recursive', async () => {
    mkdirSync(join(home, 'target'));
    writeFileSync(join(home, 'target/keep'), '');
    symlinkSync('target', join(home, 'dlink'));
    await direct.call(fsRm, { path: 'dlink', recursive: true });
    expect(existsSync(join(home, 'target/keep'))).toBe(true);
  });
});

describe('fs.rename', () => {
  it('renames, replacing an existing target by default', async () => {
    writeFileSync(join(home, 'a'), 'A');
    writeFileSync(join(home, 'b'), 'B');
    expect(await direct.call(fsRename, { from: 'a', to: 'b' })).toEqual({});
    expect(readFileSync(join(home, 'b'), 'utf8')).toBe('A');
    expect(existsSync(join(home, 'a'))).toBe(false);
  });

  it('noReplace: EEXIST and nothing changes when the target exists (files and directories)', async () => {
    writeFileSync(join(home, 'a'), 'A');
    writeFileSync(join(home, 'b'), 'B');
    await rejectsWith(direct.call(fsRename, { from: 'a', to: 'b', noReplace: true }), 'EEXIST');
    expect(readFileSync(join(home, 'a'), 'utf8')).toBe('A');
    expect(readFileSync(join(home, 'b'), 'utf8')).toBe('B');
    mkdirSync(join(home, 'd1'));
    mkdirSync(join(home, 'd2'));
    await rejectsWith(direct.call(fsRename, { from: 'd1', to: 'd2', noReplace: true }), 'EEXIST');
    expect(existsSync(join(home, 'd1'))).toBe(true);
  });

  it('noReplace moves files, directories and symlinks when the target is free', async () => {
    writeFileSync(join(home, 'f'), 'F');
    linkSync(join(home, 'f'), join(home, 'f-other-name'));
    const ino = statSync(join(home, 'f')).ino;
    await direct.call(fsRename, { from: 'f', to: 'g', noReplace: true });
    expect(statSync(join(home, 'g')).ino).toBe(ino);
    expect(statSync(join(home, 'g')).nlink).toBe(2); // the original link count, not one more
    expect(existsSync(join(home, 'f'))).toBe(false);
    mkdirSync(join(home, 'dir'));
    await direct.call(fsRename, { from: 'dir', to: 'dir2', noReplace: true });
    expect(statSync(join(home, 'dir2')).isDirectory()).toBe(true);
    symlinkSync('nowhere', join(home, 'sl'));
    await direct.call(fsRename, { from: 'sl', to: 'sl2', noReplace: true });
    expect(existsSync(join(home, 'sl'))).toBe(false);
  });

  it('ENOENT for a missing source', async () => {
    await rejectsWith(direct.call(fsRename, { from: 'nope', to: 'x' }), 'ENOENT');
    await rejectsWith(direct.call(fsRename, { from: 'nope', to: 'x', noReplace: true }), 'ENOENT');
  });
});
