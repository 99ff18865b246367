/** fs.stat, fs.lstat, fs.exists, fs.isdir, fs.isfile, fs.realpath, fs.readlink. */
import { lstatSync, type Stats } from 'node:fs';
import { readlink, realpath, stat } from 'node:fs/promises';
import { fsExists, fsIsDir, fsIsFile, fsLstat, fsReadlink, fsRealpath, fsStat, type FileInfo, type PathResult } from '../../protocol/index.js';
import type { Registry } from '../registry.js';
import type { FsDeps } from './deps.js';
import { attempt, errnoOf, fsError } from './errors.js';
import { statFields } from './info.js';
import { statOne } from './stat-many.js';
import { nameFromBytes, type FsPath } from './names.js';
import { ioPath } from './paths.js';

/**
 * Errors for which `test -e/-d/-f` just say "no". Anything else (EIO, ESTALE…)
 * is a real failure worth reporting rather than a silent false.
 */
const ABSENT = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'EACCES', 'ENAMETOOLONG']);

async function testStat(deps: FsDeps, io: FsPath, op: string): Promise<Stats | undefined> {
  try {
    return statNow(deps, io, true) ?? (await stat(io));
  } catch (err) {
    if (ABSENT.has(errnoOf(err) ?? '')) return undefined;
    throw fsError(err, op, io);
  }
}

/**
 * stat/lstat made on the event loop, when local-paths.ts says the path stays
 * on local filesystems; undefined when it must go to the threadpool (not
 * known local, or a symlink to follow). Throws the call's errno error.
 */
function statNow(deps: FsDeps, io: FsPath, follow: boolean): Stats | undefined {
  if (!deps.localPaths.lstatIsLocal(io)) return undefined;
  const st = lstatSync(io);
  return follow && st.isSymbolicLink() ? undefined : st;
}

/** Fill a symlink's target (and targetRaw when not UTF-8) on an info object. */
export async function readTarget(io: FsPath, into: { target?: string; targetRaw?: Uint8Array }): Promise<void> {
  const t = await readlink(io, { encoding: 'buffer' });
  const { name, raw } = nameFromBytes(t);
  into.target = name;
  if (raw) into.targetRaw = raw;
}

function pathResult(bytes: Buffer): PathResult {
  const { name, raw } = nameFromBytes(bytes);
  return raw ? { path: name, raw } : { path: name };
}

export function registerStat(registry: Registry, deps: FsDeps): void {
  const info = async (io: FsPath, follow: boolean): Promise<FileInfo> => {
    const op = follow ? 'stat' : 'lstat';
    let st: Stats | undefined;
    try {
      st = statNow(deps, io, follow);
    } catch (err) {
      throw fsError(err, op, io);
    }
    st ??= await attempt(op, io, () => statOne(io, follow));
    const out: FileInfo = statFields(st);
    if (out.type === 'symlink') await readTarget(io, out).catch(() => undefined);
    await deps.owners.fill(out);
    return out;
  };

  registry.unary(fsStat, (p) => info(ioPath(p.path, deps.home), true));
  registry.unary(fsLstat, (p) => info(ioPath(p.path, deps.home), false));
  registry.unary(fsExists, async (p) => (await testStat(deps, ioPath(p.path, deps.home), 'stat')) !== undefined);
  registry.unary(fsIsDir, async (p) => (await testStat(deps, ioPath(p.path, deps.home), 'stat'))?.isDirectory() ?? false);
  registry.unary(fsIsFile, async (p) => (await testStat(deps, ioPath(p.path, deps.home), 'stat'))?.isFile() ?? false);
  registry.unary(fsRealpath, async (p) => {
    const io = ioPath(p.path, deps.home);
    return pathResult(await attempt('realpath', io, () => realpath(io, { encoding: 'buffer' })));
  });
  registry.unary(fsReadlink, async (p) => {
    const io = ioPath(p.path, deps.home);
    return pathResult(await attempt('readlink', io, () => readlink(io, { encoding: 'buffer' })));
  });
}
