/** What every fs handler gets from registerFsHandlers. */
import type { FsThreads } from './fs-threads.js';
import type { LocalPaths } from './local-paths.js';
import type { Owners } from './owners.js';

export interface FsDeps {
  /** The agent user's home: relative paths and `~` resolve against it. */
  home: string;
  /** uid/gid → names, shared by all requests so the cache pays off. */
  owners: Owners;
  /** Where walks and statMany run their readdir/stat batches. */
  threads: FsThreads;
  /** Which single stats may be made on the event loop (local filesystems only). */
  localPaths: LocalPaths;
}
