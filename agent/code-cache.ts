/**
 * V8's code cache for the agent's own code, kept beside the bundle in
 * `<root>/agent/<build>/`. Every `node agent.mjs …` compiles the 0.8 MB
 * bundle first, and a cold connect runs two (`start`, which launches
 * `serve`); the `bridge` fallback tunnel runs one per connection. With the
 * bytecode of an earlier run that step is mostly a copy: `agent.mjs help`
 * 0.18–0.19 → 0.14 s on the 2-core bench machine (bare `node -e 0`: 0.09 s).
 * Node 22 has `module.enableCompileCache`; the clusters' Node 18/20 do not.
 *
 * Bytecode is code, so the cache is trusted exactly as far as the bundle
 * beside it: it is read only from a directory of ours that nobody else may
 * write, and only when it is a regular file of ours that nobody else may
 * write, checked on the descriptor it is read through (opened without
 * following a symlink). V8 checks the rest (its version, its flags, the
 * source's length) and rejects a cache that does not fit; the file name
 * carries the code's content hash (V8 does not compare the text itself),
 * this node's V8 version and the CPU, since login nodes sharing the root may
 * run different ones. A missing or rejected cache is written when the
 * process exits (so it holds what that run compiled), under a private name
 * and renamed into place: concurrent starts never read half a file.
 *
 * CLUSTRIX_CODE_CACHE=off turns it off, =report prints what happened to
 * stderr at exit (as for the CLI).
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Script } from 'node:vm';
// The file itself, not the protocol index: the launcher imports this before the agent's code is loaded.
import { codeCacheName } from '../protocol/code-cache-mode.js';

export { codeCacheMode } from '../protocol/code-cache-mode.js';

/** The cache file for code with this content hash, under this V8 and CPU, in `dir`. */
export function codeCacheFile(dir: string, codeHash: string): string {
  return join(dir, codeCacheName('code', codeHash));
}

const myUid = (): number => process.getuid?.() ?? -1;

/** Ours (when uids exist) and writable by nobody else. */
function trusted(st: { uid: number; mode: number }): boolean {
  const uid = myUid();
  return (uid < 0 || st.uid === uid) && (st.mode & 0o022) === 0;
}

/** The cached bytes when the file and its directory are trusted; else undefined. Never throws. */
export function readCodeCache(file: string, dir: string): Buffer | undefined {
  let fd: number | undefined;
  try {
    const d = statSync(dir);
    if (!d.isDirectory() || !trusted(d)) return undefined;
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    const st = fstatSync(fd);
    if (!st.isFile() || !trusted(st)) return undefined;
    return readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Write the script's code cache into place if its directory is trusted; whether it was. Never throws. */
export function writeCodeCache(script: Script, file: string, dir: string): boolean {
  const tmp = `${file}.${process.pid}.${Date.now().toString(36)}.tmp`;
  try {
    const d = statSync(dir);
    if (!d.isDirectory() || !trusted(d)) return false;
    // 'wx': O_EXCL, so nothing already there (a planted symlink included) is written through.
    writeFileSync(tmp, script.createCachedData(), { mode: 0o600, flag: 'wx' });
    renameSync(tmp, file);
    return true;
  } catch {
    rmSync(tmp, { force: true });
    return false;
  }
}
