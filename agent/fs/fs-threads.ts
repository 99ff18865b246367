/**
 * A few worker threads that run batches of synchronous readdir/stat calls
 * for the walks (find, count, du) and fs.statMany.
 *
 * Why threads and not the callback API on libuv's threadpool: every
 * threadpool call is a hand-off to another thread and back (queue lock,
 * condition-variable wake, eventfd, a JS callback and a Stats object on the
 * main thread). Measured on the 2-core bench machine, 50,000 lstat calls
 * cost about 10 µs of CPU each that way against under 3 µs as a plain
 * lstatSync loop; a 22k-entry du walk costs 3× the CPU of the same walk done
 * synchronously. Here a batch (hundreds of stats, several directories) is one
 * hand-off, and the per-entry work happens off the event loop.
 *
 * Hung filesystems: a thread runs one job at a time; a job that does not
 * come back (a dead NFS server) holds that thread only. New jobs go to idle
 * threads, and when every thread has been busy for `slowMs` another one is
 * started, up to `maxThreads` (so slow, latency-bound filesystems also get
 * calls in parallel). A stuck thread is left alone and reused if its call
 * ever returns. The event loop and libuv's threadpool (which every other
 * request uses) are never held. Idle threads exit after `idleMs`.
 */
import { Worker } from 'node:worker_threads';
import { ProtocolError } from '../../protocol/index.js';
import { FS_THREAD_CODE } from './fs-thread-code.js';
import type { FsPath } from './names.js';

/** [code, message, syscall] of a failed call. */
export type ThreadError = [code: string, message: string, syscall: string];

export type DirResult = { names: string; types: Uint8Array } | { raw: Uint8Array[]; types: Uint8Array } | { err: ThreadError };

export interface StatAnswer {
  /** STAT_FIELDS numbers per path (mode, nlink, uid, gid, size, blocks, ino, dev, mtimeMs, atimeMs, ctimeMs). */
  st: Float64Array;
  errs: (ThreadError | null)[] | null;
  targets: (Uint8Array | null)[] | null;
}

export interface StatJob {
  paths: FsPath[];
  /** stat (true) or lstat (false). */
  follow: boolean;
  /** With follow: a stat failing with ENOENT falls back to lstat (find -L and dangling links). */
  dangling?: boolean;
  /** readlink every symlink found. */
  links?: boolean;
}

type Job = { op: 'readdir'; dirs: FsPath[]; bytes: boolean[] } | ({ op: 'stat' } & Required<StatJob>);

interface Queued {
  job: Job;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  signal: AbortSignal | undefined;
}

interface Thread {
  worker: Worker;
  /** The job running, or null when idle. */
  job: Queued | null;
  /** performance.now() when the running job was handed over. */
  since: number;
  idleTimer: NodeJS.Timeout | null;
}

export interface FsThreadOptions {
  /** Most threads at once. Default 4 (libuv's default threadpool size, for the same reason: a few hung calls). */
  maxThreads?: number;
  /** A job running longer than this (ms) counts as slow: another thread may start. Default 50 ms. */
  slowMs?: number;
  /** An idle thread exits after this many ms. Default 30 s. */
  idleMs?: number;
}

export const FS_THREAD_DEFAULTS = Object.freeze({ maxThreads: 4, slowMs: 50, idleMs: 30_000 });

export class FsThreads {
  readonly #max: number;
  readonly #slowMs: number;
  readonly #idleMs: number;
  readonly #threads: Thread[] = [];
  readonly #queue: Queued[] = [];
  #head = 0;
  #checkTimer: NodeJS.Timeout | null = null;

  constructor(opts: FsThreadOptions = {}) {
    this.#max = opts.maxThreads ?? FS_THREAD_DEFAULTS.maxThreads;
    this.#slowMs = opts.slowMs ?? FS_THREAD_DEFAULTS.slowMs;
    this.#idleMs = opts.idleMs ?? FS_THREAD_DEFAULTS.idleMs;
  }

  /** Threads alive (idle, busy or stuck). */
  get size(): number {
    return this.#threads.length;
  }

  /** Read whole directories; one result per directory, in order. */
  readdir(dirs: FsPath[], bytes: boolean[], signal?: AbortSignal): Promise<DirResult[]> {
    return this.#run<{ dirs: DirResult[] }>({ op: 'readdir', dirs, bytes }, signal).then((r) => r.dirs);
  }

  /** stat or lstat every path; errors per path. */
  stat(job: StatJob, signal?: AbortSignal): Promise<StatAnswer> {
    return this.#run<StatAnswer>({ op: 'stat', paths: job.paths, follow: job.follow, dangling: job.dangling ?? false, links: job.links ?? false }, signal);
  }

  /** End every thread now (tests; agent shutdown). Jobs waiting or running are rejected. */
  async close(): Promise<void> {
    const err = new ProtocolError('SHUTTING_DOWN', 'fs threads closed');
    for (let i = this.#head; i < this.#queue.length; i++) this.#queue[i]!.reject(err);
    this.#queue.length = 0;
    this.#head = 0;
    const threads = this.#threads.splice(0);
    for (const t of threads) t.job?.reject(err);
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }

  #run<R>(job: Job, signal: AbortSignal | undefined): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ job, resolve: resolve as (v: unknown) => void, reject, signal });
      this.#dispatch();
    });
  }

  #next(): Queued | undefined {
    while (this.#head < this.#queue.length) {
      const q = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as unknown as Queued;
      if (this.#head === this.#queue.length) {
        this.#queue.length = 0;
        this.#head = 0;
      }
      // Cancelled while waiting: never started, nothing to wait for.
      if (q.signal?.aborted) {
        q.reject(q.signal.reason);
        continue;
      }
      return q;
    }
    return undefined;
  }

  get #waiting(): number {
    return this.#queue.length - this.#head;
  }

  #dispatch(): void {
    for (const t of this.#threads) {
      if (this.#waiting === 0) break;
      if (t.job === null) this.#give(t);
    }
    if (this.#waiting === 0 || this.#threads.length >= this.#max) return;
    // Every thread is busy. Start one if there is none, or if all have been busy for slowMs
    // (a slow or hung filesystem); otherwise look again when the oldest job turns slow.
    const now = performance.now();
    let youngest = -Infinity;
    for (const t of this.#threads) youngest = Math.max(youngest, t.since);
    if (this.#threads.length === 0 || now - youngest >= this.#slowMs) {
      this.#give(this.#spawn());
      return;
    }
    if (this.#checkTimer === null) {
      this.#checkTimer = setTimeout(
        () => {
          this.#checkTimer = null;
          this.#dispatch();
        },
        Math.max(1, this.#slowMs - (now - youngest)),
      );
      this.#checkTimer.unref();
    }
  }

  #give(t: Thread): void {
    const q = this.#next();
    if (!q) return;
    if (t.idleTimer) clearTimeout(t.idleTimer);
    t.idleTimer = null;
    t.job = q;
    t.since = performance.now();
    t.worker.ref();
    t.worker.postMessage(q.job);
  }

  #spawn(): Thread {
    const worker = new Worker(FS_THREAD_CODE, { eval: true, name: 'clustrix-fs' });
    const t: Thread = { worker, job: null, since: 0, idleTimer: null };
    this.#threads.push(t);
    worker.on('message', (out: { fatal?: string }) => {
      const q = t.job;
      t.job = null;
      if (q) {
        if (out.fatal !== undefined) q.reject(new Error(`fs thread: ${out.fatal}`));
        else q.resolve(out);
      }
      this.#dispatch();
      if (t.job === null) this.#idle(t);
    });
    worker.on('error', (err) => this.#lost(t, err));
    worker.on('exit', (code) => this.#lost(t, new Error(`fs thread exited with code ${code}`)));
    return t;
  }

  #idle(t: Thread): void {
    t.worker.unref();
    t.idleTimer = setTimeout(() => {
      if (t.job !== null) return;
      this.#remove(t);
      void t.worker.terminate();
    }, this.#idleMs);
    t.idleTimer.unref();
  }

  #remove(t: Thread): void {
    const i = this.#threads.indexOf(t);
    if (i >= 0) this.#threads.splice(i, 1);
    if (t.idleTimer) clearTimeout(t.idleTimer);
    t.idleTimer = null;
  }

  #lost(t: Thread, err: Error): void {
    if (!this.#threads.includes(t)) return;
    this.#remove(t);
    const q = t.job;
    t.job = null;
    q?.reject(err);
    this.#dispatch();
  }
}

let shared: FsThreads | undefined;

/** The agent's one pool (created on first use). */
export function fsThreads(): FsThreads {
  return (shared ??= new FsThreads());
}
