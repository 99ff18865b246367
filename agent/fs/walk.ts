/**
 * The tree walker shared by find, count and du.
 *
 * Shaped by the login node it runs on (see HPC-FIELD-NOTES "Login nodes are
 * policed") and by the goal of keeping up with GNU find:
 *
 * - One process, async fs on the libuv threadpool, at most `concurrency`
 *   readdir/stat calls in flight. A hung NFS directory holds one call, not the
 *   event loop every other client's request needs.
 * - Callback fs API and a pump loop, not promises: a walk is hundreds of
 *   thousands of completions and the per-promise cost shows. readdir (one
 *   scandir per directory, one threadpool trip) rather than opendir (a trip
 *   per slice plus a promise per entry): 190 ms vs 930 ms on 200k entries.
 * - No stat unless someone needs it: d_type from readdir gives the type; stat
 *   only for filters/fields that need it (`statAll`), symlinks and dirs under
 *   `follow`, dirs under `xdev`, and entries whose d_type is unknown.
 * - Bounded memory: pending directories sit on a LIFO stack (depth first, so
 *   it holds about depth × fan-out paths, never the tree), entries leave
 *   through `onEntry` as soon as they are known, and when `onEntry` returns a
 *   promise (the batcher is waiting for window credit) no new I/O starts until
 *   it settles. One directory is read whole (readdir), so one directory of N
 *   entries costs O(N) for a moment; a tree never does.
 * - Names never lose bytes (see names.ts): a directory with a name Node had to
 *   decode lossily is read again as bytes, and everything below a name that is
 *   not UTF-8 is walked with Buffer paths.
 * - Cancellation (signal) and the time limit stop the walk at once: no new
 *   I/O is started, completions still in flight are ignored.
 */
import fs, { type Dirent, type Stats } from 'node:fs';
import { ProtocolError, type FileType, type WireError } from '../../protocol/index.js';
import { fsError, fsWireError } from './errors.js';
import { typeOfDirent, typeOfMode } from './info.js';
import { decodeLossy, decodeStrict, joinBytes, mayBeLossy, type FsPath } from './names.js';
import type { Resolved } from './paths.js';

export interface WalkEntry {
  /** The path as GNU find prints it (lossy when not UTF-8). */
  path: string;
  /** Exact bytes of `path` when it is not valid UTF-8. */
  raw: Buffer | undefined;
  /** The base name (for -name). */
  name: string;
  /** 0 for the root. */
  depth: number;
  /** lstat's type; with `follow`, the target's (a dangling symlink stays 'symlink'). */
  type: FileType;
  /** lstat (stat with `follow`) result when one was made: always with `statAll`. */
  stats: Stats | undefined;
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
  /** Readdir/stat calls in flight. Default WALK_CONCURRENCY. */
  concurrency?: number;
  signal: AbortSignal;
  /** Wall-clock limit in ms; the walk fails with TIMEOUT after it. */
  timeLimitMs: number;
  /** The method name, for messages ("fs.find: time limit …"). */
  what: string;
  /** Called for every entry. Return a promise to hold the walk until it settles (backpressure). */
  onEntry(e: WalkEntry): void | Promise<void>;
  /** Called for every entry that could not be read; the walk goes on. */
  onError(e: WalkErrorEntry): void | Promise<void>;
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
 * fs calls in flight per walk. Measured on 22k/200k-entry trees on 2 cores
 * with the default 4 threadpool threads (test/agent/fs/walk-bench.ts): more
 * queued requests mean fewer idle thread wake-ups, so readdir walks gain up
 * to ~32 (200k: 280 ms at 8, 215 at 16, 175 at 32, 160 at 64) and stat-heavy
 * walks a little beyond. 32 takes most of the gain while another client's
 * single stat waits behind at most 8 queued calls per thread.
 */
export const WALK_CONCURRENCY = 32;

/** A directory waiting to be read. */
interface Dir {
  io: FsPath;
  path: string;
  raw: Buffer | undefined;
  depth: number;
  /** Read the names as bytes (set when `io` is bytes or a name came back lossy). */
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

/** An entry waiting for its stat. */
interface StatJob {
  dir: Dir;
  io: FsPath;
  path: string;
  raw: Buffer | undefined;
  name: string;
  type: FileType;
}

const STRING_OPTS = { withFileTypes: true } as const;
const BUFFER_OPTS = { withFileTypes: true, encoding: 'buffer' } as const;

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
  const { follow, xdev, maxDepth, statAll, prune, signal } = opts;
  const root = opts.root;
  // When the root prints as it is read (an absolute string path, the usual
  // case), every path below it is its own fs path: one string per entry.
  const ioIsPath = typeof root.io === 'string' && root.io === root.shown && root.raw === undefined;

  const stack: Dir[] = [];
  const statQ: StatJob[] = [];
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
    raw: Buffer | undefined,
    name: string,
    depth: number,
    type: FileType,
    stats: Stats | undefined,
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
    emit(opts.onEntry({ path, raw, name, depth, type, stats }));
    if (descend && !finished) stack.push({ io, path, raw, depth, bytes: typeof io !== 'string', anc });
  };

  const needsStat = (type: FileType): boolean =>
    statAll || type === 'unknown' || (follow && (type === 'symlink' || type === 'dir')) || (xdev && type === 'dir');

  const child = (dir: Dir, io: FsPath, path: string, raw: Buffer | undefined, name: string, type: FileType): void => {
    if (needsStat(type)) statQ.push({ dir, io, path, raw, name, type });
    else deliver(dir, io, path, raw, name, dir.depth + 1, type, undefined);
  };

  const onStrings = (dir: Dir, ents: Dirent[]): void => {
    for (let i = 0; i < ents.length; i++) {
      if (mayBeLossy(ents[i]!.name)) {
        // Node replaced bytes with U+FFFD somewhere here: read again as bytes.
        dir.bytes = true;
        readDir(dir);
        return;
      }
    }
    const prefix = prefixOf(dir.path);
    const ioPrefix = ioIsPath ? prefix : prefixOf(dir.io as string);
    for (let i = 0; i < ents.length && !finished; i++) {
      const e = ents[i]!;
      const name = e.name;
      const path = prefix + name;
      child(dir, ioIsPath ? path : ioPrefix + name, path, dir.raw && joinBytes(dir.raw, name), name, typeOfDirent(e));
    }
  };

  const onBuffers = (dir: Dir, ents: Dirent<Buffer>[]): void => {
    const prefix = prefixOf(dir.path);
    for (let i = 0; i < ents.length && !finished; i++) {
      const e = ents[i]!;
      const bytes = e.name;
      const text = decodeStrict(bytes);
      const name = text ?? decodeLossy(bytes);
      const path = prefix + name;
      let io: FsPath;
      let raw = dir.raw;
      if (text !== undefined && typeof dir.io === 'string') io = prefixOf(dir.io) + text;
      else io = joinBytes(dir.io, bytes);
      if (raw !== undefined || text === undefined) raw = joinBytes(raw ?? dir.path, bytes);
      child(dir, io, path, raw, name, typeOfDirent(e));
    }
  };

  function readDir(dir: Dir): void {
    inFlight++;
    const after = (err: NodeJS.ErrnoException | null): boolean => {
      inFlight--;
      if (finished) return false;
      if (err) {
        // GNU find: the directory was printed already; "find: 'x': Permission denied" goes to stderr.
        reportError(dir.path, dir.raw, dir.depth, 'dir', fsWireError(err, 'opendir', dir.io));
        pump();
        return false;
      }
      return true;
    };
    if (dir.bytes)
      fs.readdir(dir.io, BUFFER_OPTS, (err, ents) => {
        if (!after(err)) return;
        try {
          onBuffers(dir, ents);
        } catch (e) {
          fail(e);
        }
        pump();
      });
    else
      fs.readdir(dir.io, STRING_OPTS, (err, ents) => {
        if (!after(err)) return;
        try {
          onStrings(dir, ents);
        } catch (e) {
          fail(e);
        }
        pump();
      });
  }

  function statEntry(job: StatJob): void {
    inFlight++;
    const depth = job.dir.depth + 1;
    (follow ? fs.stat : fs.lstat)(job.io, (err, st) => {
      inFlight--;
      if (finished) return;
      try {
        if (!err) deliver(job.dir, job.io, job.path, job.raw, job.name, depth, typeOfMode(st.mode), st);
        else if (follow && err.code === 'ENOENT') {
          // A dangling symlink (find -L prints it as a symlink), or gone meanwhile: lstat tells.
          inFlight++;
          fs.lstat(job.io, (err2, lst) => {
            inFlight--;
            if (finished) return;
            try {
              if (err2) reportError(job.path, job.raw, depth, job.type, fsWireError(err2, 'lstat', job.io));
              else deliver(job.dir, job.io, job.path, job.raw, job.name, depth, typeOfMode(lst.mode), lst);
            } catch (e) {
              fail(e);
            }
            pump();
          });
        } else reportError(job.path, job.raw, depth, job.type, fsWireError(err, follow ? 'stat' : 'lstat', job.io));
      } catch (e) {
        fail(e);
      }
      pump();
    });
  }

  function pump(): void {
    while (!finished && paused === 0 && inFlight < K) {
      const job = statQ.pop();
      if (job) {
        statEntry(job);
        continue;
      }
      const dir = stack.pop();
      if (!dir) break;
      readDir(dir);
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
    let st: Stats;
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
    emit(opts.onEntry({ path: root.shown, raw: root.raw, name, depth: 0, type, stats: st }));
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
function statRoot(io: FsPath, follow: boolean): Promise<Stats> {
  return new Promise((resolve, reject) => {
    if (!follow) return fs.lstat(io, (err, st) => (err ? reject(err) : resolve(st)));
    fs.stat(io, (err, st) => {
      if (!err) return resolve(st);
      if (err.code !== 'ENOENT') return reject(err);
      fs.lstat(io, (err2, lst) => (err2 ? reject(err) : resolve(lst)));
    });
  });
}
