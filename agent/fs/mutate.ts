/** fs.mkdir, fs.rm, fs.rename. */
import { link, lstat, mkdir, rename, rm, rmdir, unlink } from 'node:fs/promises';
import { fsMkdir, fsRename, fsRm } from '../../protocol/index.js';
import type { Registry } from '../registry.js';
import type { FsDeps } from './deps.js';
import { attempt, errnoError, errnoOf, fsError } from './errors.js';
import type { FsPath } from './names.js';
import { ioPath } from './paths.js';

/** link(2) failures that mean "this filesystem has no hard links", not "no". */
const NO_HARDLINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK']);

/**
 * rename without replacing. Node has no renameat2(RENAME_NOREPLACE), so:
 * - non-directories: link(from, to) fails with EEXIST atomically if `to`
 *   exists, then unlink(from). Between the two calls both names exist (a
 *   reader may see the file twice; nothing is ever lost or overwritten).
 * - directories (no hard links), and filesystems without hard links: lstat(to)
 *   then rename. Race: a `to` created between the check and the rename is
 *   replaced if it is an empty directory, or the rename fails (ENOTEMPTY,
 *   EISDIR, ENOTDIR); a file created there in that window would be replaced.
 */
async function renameNoReplace(from: FsPath, to: FsPath): Promise<void> {
  const st = await attempt('lstat', from, () => lstat(from));
  if (!st.isDirectory()) {
    try {
      await link(from, to);
      await attempt('unlink', from, () => unlink(from));
      return;
    } catch (err) {
      if (!NO_HARDLINKS.has(errnoOf(err) ?? '')) throw fsError(err, 'rename', to);
    }
  }
  const exists = await lstat(to).then(
    () => true,
    (err: unknown) => {
      if (errnoOf(err) === 'ENOENT') return false;
      throw fsError(err, 'lstat', to);
    },
  );
  if (exists) throw errnoError('EEXIST', 'rename', to);
  await attempt('rename', to, () => rename(from, to));
}

export function registerMutate(registry: Registry, deps: FsDeps): void {
  registry.unary(fsMkdir, async (p) => {
    const io = ioPath(p.path, deps.home);
    if (p.parents) {
      const first = await attempt('mkdir', io, () => mkdir(io, { recursive: true, mode: p.mode }));
      return { created: first !== undefined };
    }
    await attempt('mkdir', io, () => mkdir(io, { mode: p.mode }));
    return { created: true };
  });

  registry.unary(fsRm, async (p) => {
    const io = ioPath(p.path, deps.home);
    let isDir: boolean;
    try {
      isDir = (await lstat(io)).isDirectory();
    } catch (err) {
      if (p.force && errnoOf(err) === 'ENOENT') return { removed: false };
      throw fsError(err, 'rm', io);
    }
    if (!isDir) await attempt('rm', io, () => unlink(io));
    else if (p.recursive) await attempt('rm', io, () => rm(io, { recursive: true, force: p.force }));
    else await attempt('rmdir', io, () => rmdir(io)); // ENOTEMPTY unless empty, like `rm -d`
    return { removed: true };
  });

  registry.unary(fsRename, async (p) => {
    const from = ioPath(p.from, deps.home);
    const to = ioPath(p.to, deps.home);
    if (p.noReplace) await renameNoReplace(from, to);
    else await attempt('rename', from, () => rename(from, to));
    return {};
  });
}
