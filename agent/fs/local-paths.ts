/**
 * Which paths a single stat may make on the event loop.
 *
 * A stat through libuv's threadpool is a hand-off to another thread and
 * back: on the 2-core bench VM ~90 µs of wake-ups against ~3 µs for the
 * call itself, a fifth of a whole fs.stat round trip through SSH. But the
 * event loop serves every session of the user, so it must never wait on a
 * network filesystem whose server may not answer (a hung NFS stat would
 * freeze the agent, cancellation included). So the synchronous call is made
 * only when it cannot touch anything but local disks and memory:
 *
 * - the path is absolute, plain text, without `.`/`..`/empty components or a
 *   trailing slash, and is not itself a mount point;
 * - its directory is canonical (realpath gives it back unchanged: no symlink
 *   on the way), and every mount point on the way from `/` to it is a local
 *   filesystem type (a local mount below an NFS one still means an NFS lookup);
 * - only lstat is made: a symlink's target may be anywhere, so following one
 *   goes back to the threadpool (stat.ts).
 *
 * Both facts are checked off the event loop (mount table read, realpath on
 * the threadpool) and trusted for TTL_MS; a path without a fresh check gets
 * the threadpool this time and starts one for next time. What could slip
 * through is a network mount made over a checked directory (or a directory
 * swapped for a symlink) in the last second, whose server hangs at once.
 */
import { readFile, realpath } from 'node:fs';
import { parseMountinfo } from '../storage/mountinfo.js';
import type { FsPath } from './names.js';

/** How long a mount table or a directory check is trusted, in ms. */
const TTL_MS = 1000;
/** Directories remembered at once (the map starts over when full). */
const MAX_DIRS = 4096;

/** Disk and memory filesystems of this machine. Not overlay or squashfs: their layers can be files on NFS. */
const LOCAL_TYPES: ReadonlySet<string> = new Set(['ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'zfs', 'f2fs', 'tmpfs', 'ramfs', 'devtmpfs']);

interface Mounts {
  at: number;
  /** Mount point → whether the mount on top there is local. */
  local: Map<string, boolean>;
}

export interface LocalPathsOptions {
  /** Where the mount table is read from. Default /proc/self/mountinfo. */
  mountinfo?: string;
  /** Clock in ms (tests). */
  now?: () => number;
}

export class LocalPaths {
  readonly #mountinfo: string;
  readonly #now: () => number;
  #mounts: Mounts | null = null;
  #loading = false;
  /** Directory → when it was found canonical and on local mounts only (false: found not to be). */
  readonly #dirs = new Map<string, { at: number; ok: boolean }>();
  readonly #checking = new Set<string>();
  /** Called once the background reads in progress are done (see idle()). */
  #idleWaiters: (() => void)[] = [];

  constructor(opts: LocalPathsOptions = {}) {
    this.#mountinfo = opts.mountinfo ?? '/proc/self/mountinfo';
    this.#now = opts.now ?? Date.now;
  }

  /**
   * True when an lstat of `path` touches local filesystems only (checked
   * within the last TTL_MS). False otherwise, and then a check starts in the
   * background so the next call may say true.
   */
  lstatIsLocal(path: FsPath): boolean {
    if (typeof path !== 'string' || !plainAbsolute(path)) return false;
    const now = this.#now();
    const mounts = this.#mounts;
    if (!mounts || now - mounts.at >= TTL_MS) {
      this.#loadMounts();
      return false;
    }
    if (mounts.local.has(path)) return false;
    const dir = path.slice(0, path.lastIndexOf('/')) || '/';
    const d = this.#dirs.get(dir);
    if (d && d.at >= mounts.at && now - d.at < TTL_MS) return d.ok;
    this.#checkDir(dir, mounts);
    return false;
  }

  /** Resolves once no mount table read or directory check is in progress (tests). */
  idle(): Promise<void> {
    if (!this.#loading && this.#checking.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #settled(): void {
    if (this.#loading || this.#checking.size > 0) return;
    for (const fn of this.#idleWaiters.splice(0)) fn();
  }

  #loadMounts(): void {
    if (this.#loading) return;
    this.#loading = true;
    readFile(this.#mountinfo, 'utf8', (err, text) => {
      this.#loading = false;
      // No mount table (not Linux): nothing is ever known to be local.
      if (!err) {
        const local = new Map<string, boolean>();
        // Later lines are mounted on top of earlier ones at the same point.
        for (const m of parseMountinfo(text)) local.set(m.mountPoint, LOCAL_TYPES.has(m.fsType));
        this.#mounts = { at: this.#now(), local };
      }
      this.#settled();
    });
  }

  #checkDir(dir: string, mounts: Mounts): void {
    if (this.#checking.has(dir)) return;
    this.#checking.add(dir);
    realpath(dir, (err, real) => {
      this.#checking.delete(dir);
      // When the table changed meanwhile, the next call checks again.
      if (this.#mounts === mounts) {
        if (this.#dirs.size >= MAX_DIRS) this.#dirs.clear();
        this.#dirs.set(dir, { at: this.#now(), ok: !err && real === dir && localAllTheWay(dir, mounts.local) });
      }
      this.#settled();
    });
  }
}

/** `/a/b`: absolute, no empty, `.` or `..` component, no trailing slash, not the root itself. */
function plainAbsolute(p: string): boolean {
  return p.length > 1 && p[0] === '/' && !p.endsWith('/') && !p.includes('//') && !/\/\.\.?(\/|$)/.test(p);
}

/** Every mount point that is `dir` or one of its ancestors is local (the root must be a mount point). */
function localAllTheWay(dir: string, local: ReadonlyMap<string, boolean>): boolean {
  if (local.get('/') !== true) return false;
  for (let i = dir.indexOf('/', 1); ; i = dir.indexOf('/', i + 1)) {
    const ancestor = i < 0 ? dir : dir.slice(0, i);
    if (local.get(ancestor) === false) return false;
    if (i < 0) return true;
  }
}
