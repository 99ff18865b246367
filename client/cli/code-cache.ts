/**
 * V8's code cache for the CLI bundle, kept in <cache dir>/code (0700, files
 * 0600). A command compiles the 0.8 MB CLI bundle before it can do
 * anything; with the bytecode of the previous run that step is mostly a
 * copy (measured: `clustrix stat /tmp` against a running local agent 240 →
 * 195 ms median, `clustrix --help` 212 → 162 ms, bare `node -e 0` ~100 ms).
 * Node 22 has `module.enableCompileCache`; Node 20 does not, hence this.
 *
 * Bytecode is code: a cache file is read only from a directory of ours that
 * nobody else may enter, and only when it is a regular file of ours that
 * nobody else may write. V8 checks the rest (its version, its flags, the
 * source's length) and rejects a cache that does not fit; the file name
 * carries the bundle's content hash, because V8 does not compare the source
 * text itself. A rejected or missing cache is written after the command has
 * run (so it holds the functions the command compiled), under a private
 * name and renamed into place: concurrent commands never read half a file.
 *
 * CLUSTRIX_CODE_CACHE=off turns it off; =report prints what happened to
 * stderr at exit.
 */
import {
  chmodSync,
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import type { Script } from 'node:vm';
// The file itself, not the protocol index: the launcher imports this before the CLI's code is loaded.
import { codeCacheName } from '../../protocol/code-cache-mode.js';
import { clustrixCacheDir } from '../cache-dir.js';
import { ownedDir, ownedPrivateDir } from '../local-trust.js';

/** Cache files kept per directory (one per clustrix build × node version in use). */
const KEEP = 4;

export { codeCacheMode, type CodeCacheMode } from '../../protocol/code-cache-mode.js';

export function codeCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(clustrixCacheDir(env), 'code');
}

/** The cache file for this bundle (by content hash) under this V8 and CPU. */
export function codeCacheFile(dir: string, bundleHash: string): string {
  return join(dir, codeCacheName('cli', bundleHash));
}

const myUid = (): number => process.getuid?.() ?? -1;

/**
 * The cached bytes, when the file and its directory are trusted; else
 * undefined. The file is checked on the descriptor it is read through
 * (opened without following a symlink), so it cannot be swapped in between.
 */
export function readCodeCache(file: string, dir: string): Buffer | undefined {
  if (!ownedPrivateDir(dir)) return undefined;
  let fd: number | undefined;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    const st = fstatSync(fd);
    const uid = myUid();
    if (!st.isFile() || (uid >= 0 && st.uid !== uid) || (st.mode & 0o022) !== 0) return undefined;
    return readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Write the script's code cache into place; what happened, for the report. Never throws. */
export function writeCodeCache(script: Script, file: string, dir: string): string {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!ownedDir(dir)) return `not written: ${dir} is not a directory of ours`;
    if (!ownedPrivateDir(dir)) chmodSync(dir, 0o700);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
    renameSync(tmp, file);
    prune(dir, basename(file));
    return 'written';
  } catch (err) {
    return `not written: ${(err as Error).message}`;
  }
}

/** Keep the KEEP newest cache files (other builds, other node versions). */
function prune(dir: string, current: string): void {
  const files = readdirSync(dir)
    .filter((f) => f.startsWith('cli-') && (f.endsWith('.bin') || f.endsWith('.tmp')) && f !== current)
    .map((f) => {
      try {
        return { f, mtime: statSync(join(dir, f)).mtimeMs };
      } catch {
        return { f, mtime: 0 };
      }
    })
    .sort((a, b) => b.mtime - a.mtime);
  const stale = Date.now() - 60_000;
  // Stray .tmp files of crashed writers go once they are a minute old; a younger one may be another command's write.
  for (const { f } of files.filter((x) => x.f.endsWith('.tmp') && x.mtime < stale)) rmSync(join(dir, f), { force: true });
  for (const { f } of files.filter((x) => x.f.endsWith('.bin')).slice(KEEP - 1)) rmSync(join(dir, f), { force: true });
}
