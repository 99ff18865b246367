import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalPaths } from '../../../agent/fs/local-paths.js';
import { Owners } from '../../../agent/fs/index.js';
import { fsExists, fsIsFile, fsLstat, fsStat } from '../../../protocol/index.js';
import { createDirect } from '../../support/direct.js';
import { removeTree, tempDir } from '../../support/trees.js';

let root: string;
const line = (id: number, point: string, type: string) => `${id} 1 0:${id} / ${point} rw,relatime - ${type} src rw`;

/** A mount table file: "/" on ext4, plus `extra` lines. */
function mountinfo(...extra: string[]): string {
  const file = join(root, `mountinfo-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, [line(1, '/', 'ext4'), ...extra].join('\n') + '\n');
  return file;
}

/** Ask twice: the first answer is always no (nothing checked yet), the second is what the checks found. */
async function settled(lp: LocalPaths, path: string | Buffer): Promise<boolean> {
  lp.lstatIsLocal(path);
  await lp.idle();
  lp.lstatIsLocal(path);
  await lp.idle();
  return lp.lstatIsLocal(path);
}

beforeAll(() => {
  root = tempDir('clx-localpaths-');
  mkdirSync(join(root, 'dir'));
  writeFileSync(join(root, 'dir', 'file'), 'hello');
  symlinkSync('dir', join(root, 'via-link'));
  mkdirSync(join(root, 'nfs', 'below'), { recursive: true });
  mkdirSync(join(root, 'mnt'));
});
afterAll(() => removeTree(root));

describe('LocalPaths', () => {
  it('says local only once the mount table and the directory were checked off the event loop', async () => {
    const lp = new LocalPaths({ mountinfo: mountinfo() });
    const file = join(root, 'dir', 'file');
    expect(lp.lstatIsLocal(file)).toBe(false); // mount table not read yet
    await lp.idle();
    expect(lp.lstatIsLocal(file)).toBe(false); // directory not checked yet
    await lp.idle();
    expect(lp.lstatIsLocal(file)).toBe(true);
    expect(lp.lstatIsLocal(join(root, 'dir', 'missing'))).toBe(true); // same directory: an lstat answers ENOENT locally
  });

  it('refuses paths under or at a network mount, through a symlinked directory, or not written plainly', async () => {
    const nfs = join(root, 'nfs');
    const lp = new LocalPaths({ mountinfo: mountinfo(line(2, nfs, 'nfs4'), line(3, join(nfs, 'below'), 'tmpfs'), line(4, join(root, 'mnt'), 'lustre')) });
    expect(await settled(lp, join(nfs, 'x'))).toBe(false);
    expect(await settled(lp, join(nfs, 'below', 'x'))).toBe(false); // a local mount below an NFS one: the lookup crosses NFS
    expect(await settled(lp, join(root, 'mnt'))).toBe(false); // the mount point itself: lstat reads the mounted root
    expect(await settled(lp, join(root, 'via-link', 'file'))).toBe(false);
    for (const p of [`${root}/dir/../dir/file`, `${root}/dir/./file`, `${root}//dir/file`, `${root}/dir/`, 'dir/file', '/']) {
      expect(await settled(lp, p)).toBe(false);
    }
    expect(await settled(lp, Buffer.from(join(root, 'dir', 'file')))).toBe(false);
    expect(await settled(lp, join(root, 'dir', 'file'))).toBe(true);
  });

  it('refuses everything when the root is not local or there is no mount table', async () => {
    const file = join(root, 'dir', 'file');
    const nfsRoot = join(root, 'mountinfo-nfsroot');
    writeFileSync(nfsRoot, line(1, '/', 'nfs') + '\n');
    expect(await settled(new LocalPaths({ mountinfo: nfsRoot }), file)).toBe(false);
    expect(await settled(new LocalPaths({ mountinfo: join(root, 'no-such-file') }), file)).toBe(false);
  });

  it('checks again once what it knows is a second old', async () => {
    let now = 1_000_000;
    const lp = new LocalPaths({ mountinfo: mountinfo(), now: () => now });
    const file = join(root, 'dir', 'file');
    expect(await settled(lp, file)).toBe(true);
    now += 1000;
    expect(lp.lstatIsLocal(file)).toBe(false);
    expect(await settled(lp, file)).toBe(true);
  });
});

describe('fs.stat on the event loop', () => {
  it('answers exactly as through the threadpool: files, directories, symlinks (followed on the threadpool), errors', async () => {
    const home = tempDir('clx-statnow-');
    try {
      mkdirSync(join(home, 'd'));
      writeFileSync(join(home, 'd', 'f'), 'data');
      symlinkSync('f', join(home, 'd', 'link'));
      symlinkSync('missing', join(home, 'd', 'dangling'));
      symlinkSync('loop2', join(home, 'd', 'loop1'));
      symlinkSync('loop1', join(home, 'd', 'loop2'));
      const owners = new Owners({ getent: false });
      const local = new LocalPaths({ mountinfo: mountinfo() });
      const fast = createDirect({ home, owners, localPaths: local });
      const slow = createDirect({ home, owners, localPaths: new LocalPaths({ mountinfo: join(root, 'no-such-file') }) });
      const names = ['f', 'link', 'dangling', 'loop1', 'missing', 'f/below'];
      // f/below too: its "directory" is a file, and lstat answers ENOTDIR without leaving the disk.
      for (const n of names) expect(await settled(local, join(home, 'd', n))).toBe(true);
      const answer = (d: typeof fast, m: typeof fsStat, path: string) =>
        d.call(m, { path }).then(
          (info) => ({ ...info, atimeMs: 0 }),
          (err: { toWire(): unknown }) => err.toWire(),
        );
      for (const n of [...names, '.']) {
        const path = join(home, 'd', n);
        for (const m of [fsStat, fsLstat]) expect(await answer(fast, m, path)).toEqual(await answer(slow, m, path));
        expect(await fast.call(fsExists, { path })).toBe(await slow.call(fsExists, { path }));
        expect(await fast.call(fsIsFile, { path })).toBe(await slow.call(fsIsFile, { path }));
      }
    } finally {
      removeTree(home);
    }
  });
});
