/**
 * The tree walker shared by find, count and du.
 *
 * Shaped by the login node it runs on (see HPC-FIELD-NOTES "Login nodes are
 * policed") and by the goal of keeping up with GNU find:
 *
 * - One process. The readdir and stat calls run synchronously, in batches, on
 *   the agent's fs threads (fs-threads.ts): a job of several directories or
 *   a few hundred stats is one hand-off, where the libuv threadpool costs a
 *   hand-off (and a callback, and a Stats object) per call. At most
 *   `concurrency` jobs per walk are queued or running, so the thread always
 *   has the next one ready. A hung NFS directory holds one fs thread, never
 *   the event loop or the threadpool every other request uses.
 * - readdir returns d_type, so the type is known without stat; stat only for
 *   filters/fields that need it (`statAll`), symlinks and dirs under
 *   `follow`, dirs under `xdev`, and entries whose d_type is unknown.
 * - Bounded memory: pending directories sit on a LIFO stack (depth first, so
 *   it holds about depth × fan-out paths, never the tree), entries leave
 *   through `onEntry` as soon as they are known, and when `onEntry` returns a
 *   promise (the batcher is waiting for window credit) no new job starts until
 *   it settles. One directory is read whole, so one directory of N entries
 *   costs O(N) for a moment; a tree never does.
 * - Names never lose bytes (see names.ts): a directory with a name Node had to
 *   decode lossily comes back as bytes, and everything below a name that is
 *   not UTF-8 is walked with Buffer paths.
 * - Cancellation (signal) and the time limit stop the walk at once: no new
 *   job is started, jobs still queued are dropped, answers in flight are
 *   ignored.
 */
import fs from 'node:fs';
import { FILE_TYPES, ProtocolError, type FileType, type WireError } from '../../protocol/index.js';
import { fsError, threadWireError } from './errors.js';
import { DirStat, fsThreads, type DirResult, type DirSum, type FsThreads, type StatAnswer } from './fs-threads.js';
import { statRecordAt, typeOfMode, type StatRecord } from './info.js';
import { decodeLossy, decodeStrict, joinBytes, type FsPath } from './names.js';
import type { Resolved } from './paths.js';

/**
 * What onEntry gets. One object per walk, refilled for every entry (a walk
 * is hundreds of thousands of them; allocating one each was a good part of
 * the event loop's garbage): read what you need during the call, copy what
 * you keep.
 */
export interface WalkEntry {
  /** The path as GNU find prints it (lossy when not UTF-8); made on first read. */
  readonly path: string;
  /**
   * `path` is `prefix + name` with this prefix (the parent's path and a
   * slash; one string object for all entries of a directory), or '' when
   * `path` is whole (the root).
   */
  prefix: string;
  /** Exact bytes of `path` when it is not valid UTF-8. */
  raw: Buffer | undefined;
  /** The base name (for -name). */
  name: string;
  /** 0 for the root. */
  depth: number;
  /** lstat's type; with `follow`, the target's (a dangling symlink stays 'symlink'). */
  type: FileType;
  /** lstat (stat with `follow`) result when one was made: always with `statAll`. */
  stats: StatRecord | undefined;
}

export interface WalkErrorEntry {
  path: string;
  raw: Buffer | undefined;
  depth: number;
  type: FileType;
  error: WireError;
}

export interface WalkOptions {
  root: Resolved;
  /** Follow symlinks (find -L); directory cycles become ELOOP errors. */
  follow: boolean;
  /** Do not descend into directories on another filesystem than the root's. */
  xdev: boolean;
  /** Deepest level reported (the root is 0). Infinity for no limit. */
  maxDepth: number;
  /** stat every entry (filters or fields need it). */
  statAll: boolean;
  /** Directories whose base name this accepts are reported but not descended into. */
  prune?: ((name: string) => boolean) | undefined;
  /** fs-thread jobs (readdir or stat batches) queued or running. Default WALK_CONCURRENCY. */
  concurrency?: number;
  /** The fs threads to run on. Default: the agent's shared pool. */
  threads?: FsThreads;
  signal: AbortSignal;
  /** Wall-clock limit in ms; the walk fails with TIMEOUT after it. */
  timeLimitMs: number;
  /** The method name, for messages ("fs.find: time limit …"). */
  what: string;
  /** Called for every entry. Return a promise to hold the walk until it settles (backpressure). */
  onEntry(e: WalkEntry): void | Promise<void>;
  /** Called for every entry that could not be read; the walk goes on. */
  onError(e: WalkErrorEntry): void | Promise<void>;
  /**
   * du's shortcut (with statAll, without follow): a directory's entries that
   * are not directories, have one link and were stat'ed without error are not
   * reported one by one but summed on the fs thread and handed over here,
   * with the directory's prefix (its path and a slash) and their depth.
   */
  onFolded?: (prefix: string, depth: number, sum: DirSum) => void;
}

export interface WalkResult {
  /** Entries looked at (reported ones and errors). */
  visited: number;
  /** Error entries. */
  errors: number;
  /** True when stop() ended the walk early. */
  stopped: boolean;
}

export interface Walk {
  readonly done: Promise<WalkResult>;
  /** End the walk now (e.g. a limit was reached); `done` resolves with stopped: true. */
  stop(): void;
  /** Entries looked at so far. */
  readonly visited: number;
}

/**
 * fs-thread jobs queued or running per walk: enough for the thread's
 * pipeline (4) and the next ones ready when it frees up. More only lengthens
 * the queue another request's job waits behind (each job is ~1 ms on a local
 * disk).
 */
export const WALK_CONCURRENCY = 8;

/**
 * Directories per readdir job: enough to amortise the hand-off (a message
 * each way, ~20 µs) on trees of small directories.
 */
export const READDIR_BATCH = 32;

/** Paths per stat job. */
export const STAT_BATCH = 256;

class EntrySlot implements WalkEntry {
  prefix = '';
  name = '';
  /** The path when it is not prefix + name (the root), or already made. */
  whole: string | undefined = undefined;
  raw: Buffer | undefined = undefined;
  depth = 0;
  type: FileType = 'unknown';
  stats: StatRecord | undefined = undefined;

  get path(): string {
    return (this.whole ??= this.prefix + this.name);
  }

  fill(whole: string | undefined, prefix: string, name: string, raw: Buffer | undefined, depth: number, type: FileType, stats: StatRecord | undefined): this {
    this.whole = whole;
    this.prefix = prefix;
    this.name = name;
    this.raw = raw;
    this.depth = depth;
    this.type = type;
    this.stats = stats;
    return this;
  }
}

/** A directory waiting to be read. */
interface Dir {
  io: FsPath;
  path: string;
  raw: Buffer | undefined;
  depth: number;
  /** Read the names as bytes (set when `io` is bytes). */
  bytes: boolean;
  /** With follow: this directory and its ancestors, for loop detection. */
  anc: Ancestor | undefined;
}

interface Ancestor {
  dev: number;
  ino: number;
  path: string;
  parent: Ancestor | undefined;
}

/** A directory read without error. */
type DirAnswer = Exclude<DirResult, { err: unknown }>;

/** An entry waiting for its stat. */
interface StatItem {
  dir: Dir;
  io: FsPath;
  path: string;
  prefix: string;
  raw: Buffer | undefined;
  name: string;
  type: FileType;
}

function baseName(shown: string): string {
  const t = shown.replace(/\/+$/, '');
  if (t === '') return shown === '' ? '' : '/';
  return t.slice(t.lastIndexOf('/') + 1);
}

function prefixOf(path: string): string {
  return path.endsWith('/') ? path : `${path}/`;
}

export function walk(opts: WalkOptions): Walk {
  const K = opts.concurrency ?? WALK_CONCURRENCY;
  const threads = opts.threads ?? fsThreads();
  const { follow, xdev, maxDepth, statAll, prune, signal } = opts;
  const root = opts.root;
  // When the root prints as it is read (an absolute string path, the usual
  // case), every path below it is its own fs path: one string per entry.
  const ioIsPath = typeof root.io === 'string' && root.io === root.shown && root.raw === undefined;
  // Aborted when the walk ends for any reason: its jobs still queued are dropped.
  const jobs = new AbortController();

  const slot = new EntrySlot();
  const stack: Dir[] = [];
  const statQ: StatItem[] = [];
  let inFlight = 0;
  let paused = 0;
  let visited = 0;
  let errors = 0;
  let rootDev = 0;
  let finished = false;
  let timer: NodeJS.Timeout | undefined;
  let resolveDone!: (r: WalkResult) => void;
  let rejectDone!: (e: unknown) => void;
  const done = new Promise<WalkResult>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });

  const cleanup = (): void => {
    finished = true;
    if (timer) clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
    jobs.abort();
    stack.length = 0;
    statQ.length = 0;
  };
  const finish = (stopped: boolean): void => {
    if (finished) return;
    cleanup();
    resolveDone({ visited, errors, stopped });
  };
  const fail = (err: unknown): void => {
    if (finished) return;
    cleanup();
    rejectDone(err);
  };
  function onAbort(): void {
    fail(new ProtocolError('CANCELLED', `${opts.what} cancelled after ${visited} entries`));
  }

  const resume = (): void => {
    paused--;
    pump();
  };
  /** Hand a result to the consumer; hold the walk while it pushes back. */
  const emit = (r: void | Promise<void>): void => {
    if (r) {
      paused++;
      r.then(resume, fail);
    }
  };

  const reportError = (path: string, raw: Buffer | undefined, depth: number, type: FileType, error: WireError): void => {
    if (finished) return;
    visited++;
    errors++;
    emit(opts.onError({ path, raw, depth, type, error }));
  };

  /** An entry is known (type, maybe stats): report it and queue it if it is a directory to enter. */
  const deliver = (
    dir: Dir | undefined,
    io: FsPath,
    path: string,
    prefix: string,
    raw: Buffer | undefined,
    name: string,
    depth: number,
    type: FileType,
    stats: StatRecord | undefined,
  ): void => {
    let anc: Ancestor | undefined;
    const descend = type === 'dir' && depth < maxDepth && !(prune && prune(name)) && !(xdev && stats !== undefined && stats.dev !== rootDev);
    if (follow && type === 'dir' && stats) {
      for (let a = dir?.anc; a; a = a.parent) {
        if (a.ino === stats.ino && a.dev === stats.dev) {
          // GNU find -L: "File system loop detected; 'x' is part of the same file system loop as 'y'." Not printed.
          reportError(path, raw, depth, type, {
            code: 'ELOOP',
            message: `File system loop detected; '${path}' is part of the same file system loop as '${a.path}'`,
            details: { loopWith: a.path },
          });
          return;
        }
      }
      anc = { dev: stats.dev, ino: stats.ino, path, parent: dir?.anc };
    }
    visited++;
    emit(opts.onEntry(slot.fill(path, prefix, name, raw, depth, type, stats)));
    if (descend && !finished) stack.push({ io, path, raw, depth, bytes: typeof io !== 'string', anc });
  };

  /** deliver() for an entry that is not entered and has no stats: nothing to make but the report. */
  const leaf = (prefix: string, name: string, depth: number, type: FileType): void => {
    visited++;
    emit(opts.onEntry(slot.fill(undefined, prefix, name, undefined, depth, type, undefined)));
  };

  const needsStat = (type: FileType): boolean =>
    statAll || type === 'unknown' || (follow && (type === 'symlink' || type === 'dir')) || (xdev && type === 'dir');

  /** How readdir jobs stat the entries they read: every entry when statAll (one pass, no stat jobs). */
  const dirStat = statAll ? (follow ? DirStat.Stat : DirStat.Lstat) : DirStat.None;
  const onFolded = statAll && !follow ? opts.onFolded : undefined;

  /** Entry `i` of directory answer `r`: delivered with the stats the job made, queued for a stat job, or delivered as is. */
  const child = (dir: Dir, r: DirAnswer, i: number, io: FsPath, path: string, prefix: string, raw: Buffer | undefined, name: string, type: FileType): void => {
    const depth = dir.depth + 1;
    if (r.st) {
      const err = r.errs?.[i];
      if (err) reportError(path, raw, depth, type, threadWireError(err, io));
      else {
        const st = statRecordAt(r.st, i);
        deliver(dir, io, path, prefix, raw, name, depth, typeOfMode(st.mode), st);
      }
    } else if (needsStat(type)) statQ.push({ dir, io, path, prefix, raw, name, type });
    else deliver(dir, io, path, prefix, raw, name, depth, type, undefined);
  };

  const onNames = (dir: Dir, r: DirAnswer, joined: string, types: Uint8Array): void => {
    if (types.length === 0) return;
    const names = joined.split('\0');
    const prefix = prefixOf(dir.path);
    const ioPrefix = ioIsPath ? prefix : prefixOf(dir.io as string);
    // Entries that need neither a stat nor a descent, in the usual string-path walk, are
    // delivered without making their path or fs-path strings (see leaf()).
    const leaves = ioIsPath && dir.raw === undefined && r.st === undefined;
    const depth = dir.depth + 1;
    for (let i = 0; i < names.length && !finished; i++) {
      const name = names[i]!;
      const type = FILE_TYPES[types[i]!]!;
      if (leaves && type !== 'dir' && !needsStat(type)) {
        leaf(prefix, name, depth, type);
        continue;
      }
      const path = prefix + name;
      child(dir, r, i, ioIsPath ? path : ioPrefix + name, path, prefix, dir.raw && joinBytes(dir.raw, name), name, type);
    }
  };

  const onBytes = (dir: Dir, r: DirAnswer, names: Uint8Array[], types: Uint8Array): void => {
    const prefix = prefixOf(dir.path);
    for (let i = 0; i < names.length && !finished; i++) {
      const u = names[i]!;
      const bytes = Buffer.from(u.buffer, u.byteOffset, u.byteLength);
      const text = decodeStrict(bytes);
      const name = text ?? decodeLossy(bytes);
      const path = prefix + name;
      let io: FsPath;
      let raw = dir.raw;
      if (text !== undefined && typeof dir.io === 'string') io = prefixOf(dir.io) + text;
      else io = joinBytes(dir.io, bytes);
      if (raw !== undefined || text === undefined) raw = joinBytes(raw ?? dir.path, bytes);
      child(dir, r, i, io, path, prefix, raw, name, FILE_TYPES[types[i]!]!);
    }
  };

  const onDir = (dir: Dir, r: DirResult): void => {
    // GNU find: the directory was printed already; "find: 'x': Permission denied" goes to stderr.
    if ('err' in r) return reportError(dir.path, dir.raw, dir.depth, 'dir', threadWireError(r.err, dir.io));
    if (onFolded && r.sum) {
      visited += r.sum[0] + r.sum[1] + r.sum[2];
      onFolded(prefixOf(dir.path), dir.depth + 1, r.sum);
    }
    if ('names' in r) onNames(dir, r, r.names, r.types);
    else onBytes(dir, r, r.raw, r.types);
  };

  function readDirs(dirs: Dir[]): void {
    inFlight++;
    threads
      .readdir(
        dirs.map((d) => d.io),
        dirs.map((d) => d.bytes),
        jobs.signal,
        dirStat,
        onFolded !== undefined,
      )
      .then(
        (results) => {
          inFlight--;
          if (finished) return;
          try {
            for (let i = 0; i < dirs.length && !finished; i++) onDir(dirs[i]!, results[i]!);
          } catch (e) {
            fail(e);
          }
          pump();
        },
        (e: unknown) => fail(e),
      );
  }

  const onStats = (items: StatItem[], a: StatAnswer): void => {
    for (let i = 0; i < items.length && !finished; i++) {
      const it = items[i]!;
      const depth = it.dir.depth + 1;
      const err = a.errs?.[i];
      if (err) reportError(it.path, it.raw, depth, it.type, threadWireError(err, it.io));
      else {
        const st = statRecordAt(a.st, i);
        deliver(it.dir, it.io, it.path, it.prefix, it.raw, it.name, depth, typeOfMode(st.mode), st);
      }
    }
  };

  function statItems(items: StatItem[]): void {
    inFlight++;
    threads.stat({ paths: items.map((it) => it.io), follow, dangling: follow }, jobs.signal).then(
      (a) => {
        inFlight--;
        if (finished) return;
        try {
          onStats(items, a);
        } catch (e) {
          fail(e);
        }
        pump();
      },
      (e: unknown) => fail(e),
    );
  }

  function pump(): void {
    while (!finished && paused === 0 && inFlight < K) {
      if (statQ.length > 0) statItems(statQ.splice(Math.max(0, statQ.length - STAT_BATCH)));
      else if (stack.length > 0) readDirs(stack.splice(Math.max(0, stack.length - READDIR_BATCH)));
      else break;
    }
    if (!finished && inFlight === 0 && paused === 0 && statQ.length === 0 && stack.length === 0) finish(false);
  }

  const start = async (): Promise<void> => {
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    timer = setTimeout(() => {
      fail(
        new ProtocolError('TIMEOUT', `${opts.what}: time limit of ${opts.timeLimitMs} ms reached after ${visited} entries`, {
          timeLimitMs: opts.timeLimitMs,
          visited,
        }),
      );
    }, opts.timeLimitMs);
    let st: StatRecord;
    try {
      st = await statRoot(root.io, follow);
    } catch (err) {
      return fail(fsError(err, follow ? 'stat' : 'lstat', root.io));
    }
    if (finished) return;
    rootDev = st.dev;
    const type = typeOfMode(st.mode);
    // The root is always entered if it is a directory (find applies -xdev below the root).
    const name = baseName(root.shown);
    visited++;
    emit(opts.onEntry(slot.fill(root.shown, '', name, root.raw, 0, type, st)));
    if (type === 'dir' && maxDepth > 0 && !(prune && prune(name)) && !finished) {
      const anc = follow ? { dev: st.dev, ino: st.ino, path: root.shown, parent: undefined } : undefined;
      stack.push({ io: root.io, path: root.shown, raw: root.raw, depth: 0, bytes: typeof root.io !== 'string', anc });
    }
    pump();
  };
  start().catch(fail);

  return {
    done,
    stop: () => finish(true),
    get visited() {
      return visited;
    },
  };
}

/** stat (follow) or lstat the root; with follow, a dangling symlink root is reported as the link. */
function statRoot(io: FsPath, follow: boolean): Promise<StatRecord> {
  return new Promise((resolve, reject) => {
    if (!follow) return fs.lstat(io, (err, st) => (err ? reject(err) : resolve(st)));
    fs.stat(io, (err, st) => {
      if (!err) return resolve(st);
      if (err.code !== 'ENOENT') return reject(err);
      fs.lstat(io, (err2, lst) => (err2 ? reject(err) : resolve(lst)));
    });
  });
}
