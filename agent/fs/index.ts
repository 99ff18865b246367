/**
 * The filesystem methods of the agent. One call registers all of them:
 *
 *   registerFsHandlers(registry, { home: os.homedir() })
 *
 * Every method answers in one round trip; walks (find, count, du, glob) and
 * listings stream with the session's flow control and stop on cancellation.
 * Files: stat.ts, ls.ts, walk.ts (shared by find.ts and du.ts), glob.ts,
 * match.ts (fnmatch), read-write.ts, upload.ts, mutate.ts; names.ts keeps
 * non-UTF-8 names exact, errors.ts maps errno errors, owners.ts names uids.
 *
 * Deployment note: walks and statMany run their readdir/stat calls in
 * batches on the agent's fs threads (fs-threads.ts: up to 4 worker threads,
 * started on demand, gone when idle); a single stat that provably stays on
 * local disks is made on the event loop (local-paths.ts); everything else
 * uses libuv's threadpool (4 threads unless UV_THREADPOOL_SIZE says
 * otherwise). A hung NFS server holds threads, not the event loop.
 */
import type { Registry } from '../registry.js';
import type { FsDeps } from './deps.js';
import { registerDu } from './du.js';
import { registerFind } from './find.js';
import { fsThreads, type FsThreads } from './fs-threads.js';
import { registerGlob } from './glob.js';
import { LocalPaths } from './local-paths.js';
import { registerLs } from './ls.js';
import { registerMutate } from './mutate.js';
import { Owners } from './owners.js';
import { registerReadWrite } from './read-write.js';
import { registerStat } from './stat.js';
import { registerStatMany } from './stat-many.js';
import { registerUpload } from './upload.js';

export interface FsHandlerOptions {
  /** Home directory: relative paths and `~` resolve against it. */
  home: string;
  /** Name lookup (tests inject one with fixed files). Default: /etc/passwd, /etc/group, then getent. */
  owners?: Owners;
  /** The fs threads walks and statMany use (tests inject one). Default: the agent's shared pool. */
  threads?: FsThreads;
  /** Which single stats may be made on the event loop (tests inject one). Default: /proc/self/mountinfo. */
  localPaths?: LocalPaths;
}

export function registerFsHandlers(registry: Registry, opts: FsHandlerOptions): void {
  const deps: FsDeps = {
    home: opts.home,
    owners: opts.owners ?? new Owners(),
    threads: opts.threads ?? fsThreads(),
    localPaths: opts.localPaths ?? new LocalPaths(),
  };
  registerStat(registry, deps);
  registerStatMany(registry, deps);
  registerLs(registry, deps);
  registerFind(registry, deps);
  registerDu(registry, deps);
  registerGlob(registry, deps);
  registerReadWrite(registry, deps);
  registerUpload(registry, deps);
  registerMutate(registry, deps);
}

export { Owners } from './owners.js';
export { FsThreads } from './fs-threads.js';
