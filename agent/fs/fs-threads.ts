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
 * synchronously. Here a batch (hundreds of stats, dozens of directories) is
 * one hand-off, and the per-entry work happens off the event loop.
 *
 * Each thread has up to PIPELINE jobs outstanding, so it starts the next one
 * without waiting for the main thread to read the last answer: the event
 * loop is often late (GC, encoding a batch, descheduled on a busy machine).
 * Measured over 22k/200k-entry walks, the thread was busy ~1/2 of the walk
 * with one job outstanding, ~2/3 with two, ~4/5 with four.
 *
 * Jobs go to the first thread whose current job is not slow. A backlog
 * larger than one thread's pipeline spreads over up to `parallel` threads
 * (default 2); a small one stays on one thread. A thread is started for
 * that only once such a backlog has kept the running ones busy for
 * `spreadAfterMs` (20 ms: a big walk), because a start costs ~50 ms of CPU,
 * more than a short walk gains (a fresh agent's first find of a 5k-entry
 * tree took 44–48 ms with an eager start against 26–33 ms without); once
 * started it serves later walks at once, and extra threads idle out.
 * Measured on the 2-core bench machine over the
 * 22k-entry tree, in-process: a find-like walk 44.6 → 27.3 ms, a du-like
 * walk 143 → 87 ms, at the same CPU; through the testbed's sshd, find
 * 57 → 52 ms and du 145 → 91–104 ms. Two, not more: login nodes cap a
 * user's CPU (200% at one site), and the event loop, which reads every
 * answer, is a third busy thread.
 *
 * Hung filesystems: a job that does not come back (a dead NFS server) holds
 * its thread. Once a thread's current job has run for `slowMs`, the jobs
 * queued behind it there are handed to other threads (reads are idempotent:
 * whichever answer comes first is used, a late duplicate is dropped), and
 * when every thread is that slow another one starts, up to `maxThreads` (so
 * slow, latency-bound filesystems also get calls in parallel). A stuck
 * thread is reused if its call ever returns. The event loop and libuv's
 * threadpool (which every other request uses) are never held. Idle threads
 * exit after `idleMs`.
 */
import { Worker } from 'node:worker_threads';
import { ProtocolError } from '../../protocol/index.js';
import { FS_THREAD_CODE } from './fs-thread-code.js';
import type { FsPath } from './names.js';

/** [code, message, syscall] of a failed call. */
export type ThreadError = [code: string, message: string, syscall: string];

/** With `stat` asked for: one slot per entry, as in a StatAnswer. */
interface ChildStats {
  st?: Float64Array;
  errs?: (ThreadError | null)[] | null;
  /** With `fold`: what was left out, [files, symlinks, other, apparentBytes, allocatedBytes]. */
  sum?: DirSum;
}

/** A directory's folded entries: counts by type and their byte totals (du's st_size and st_blocks × 512). */
export type DirSum = [files: number, symlinks: number, other: number, apparentBytes: number, allocatedBytes: number];

export type DirResult = ({ names: string; types: Uint8Array } & ChildStats) | ({ raw: Uint8Array[]; types: Uint8Array } & ChildStats) | { err: ThreadError };

/** What a readdir job also does for each entry: nothing, lstat, or stat (a dangling link then as lstat). */
export const DirStat = Object.freeze({ None: 0, Lstat: 1, Stat: 2 } as const);
export type DirStat = (typeof DirStat)[keyof typeof DirStat];

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

type Job = { op: 'readdir'; dirs: FsPath[]; bytes: boolean[]; stat: DirStat; fold: boolean } | ({ op: 'stat' } & Required<StatJob>);

/** Jobs a thread may have outstanding: the one it runs and those it starts next. */
const PIPELINE = 4;

interface Task {
  job: Job;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  /** Answered (or failed); a duplicate answer from a rescued copy is dropped. */
  done: boolean;
  /** Queued again because it waited behind a slow call (once is enough). */
  rescued: boolean;
}

interface Thread {
  worker: Worker;
  /** Jobs sent, oldest (running) first; the thread answers in this order. */
  jobs: Task[];
  /** performance.now() when the running job started (or the thread came online, if later). */
  since: number;
  /** performance.now() when it last went from no jobs to some (how long a backlog has kept it busy). */
  busySince: number;
  /** Started and running its code (a thread takes ~50 ms to start: not a sign of a slow filesystem). */
  online: boolean;
  idleTimer: NodeJS.Timeout | null;
}

export interface FsThreadOptions {
  /** Most threads at once. Default 4 (libuv's default threadpool size, for the same reason: a few hung calls). */
  maxThreads?: number;
  /** A job running longer than this (ms) counts as slow: jobs behind it move, another thread may start. Default 50 ms. */
  slowMs?: number;
  /** An idle thread exits after this many ms. Default 30 s. */
  idleMs?: number;
  /** Threads a backlog spreads over while none is slow. Default 2. */
  parallel?: number;
  /** A thread for spreading is started only once a backlog has kept the running ones busy this long (ms). Default 20. */
  spreadAfterMs?: number;
}

export const FS_THREAD_DEFAULTS = Object.freeze({ maxThreads: 4, slowMs: 50, idleMs: 30_000, parallel: 2, spreadAfterMs: 20 });

export class FsThreads {
  readonly #max: number;
  readonly #slowMs: number;
  readonly #idleMs: number;
  readonly #parallel: number;
  readonly #spreadAfterMs: number;
  readonly #threads: Thread[] = [];
  /** Waiting jobs, FIFO with a moving head. */
  #queue: Task[] = [];
  #head = 0;
  #checkTimer: NodeJS.Timeout | null = null;

  constructor(opts: FsThreadOptions = {}) {
    this.#max = opts.maxThreads ?? FS_THREAD_DEFAULTS.maxThreads;
    this.#slowMs = opts.slowMs ?? FS_THREAD_DEFAULTS.slowMs;
    this.#idleMs = opts.idleMs ?? FS_THREAD_DEFAULTS.idleMs;
    this.#parallel = Math.max(1, Math.min(opts.parallel ?? FS_THREAD_DEFAULTS.parallel, this.#max));
    this.#spreadAfterMs = opts.spreadAfterMs ?? FS_THREAD_DEFAULTS.spreadAfterMs;
  }

  /** Threads alive (idle, busy or stuck). */
  get size(): number {
    return this.#threads.length;
  }

  /**
   * Read whole directories (and maybe stat every entry); one result per directory, in order.
   * `fold` (with stat): non-directories with one link are left out and summed instead (du).
   */
  readdir(dirs: FsPath[], bytes: boolean[], signal?: AbortSignal, stat: DirStat = DirStat.None, fold = false): Promise<DirResult[]> {
    return this.#run<{ dirs: DirResult[] }>({ op: 'readdir', dirs, bytes, stat, fold }, signal).then((r) => r.dirs);
  }

  /** stat or lstat every path; errors per path. */
  stat(job: StatJob, signal?: AbortSignal): Promise<StatAnswer> {
    return this.#run<StatAnswer>({ op: 'stat', paths: job.paths, follow: job.follow, dangling: job.dangling ?? false, links: job.links ?? false }, signal);
  }

  /** End every thread now (tests; agent shutdown). Jobs waiting or running are rejected. */
  async close(): Promise<void> {
    const err = new ProtocolError('SHUTTING_DOWN', 'fs threads closed');
    for (let i = this.#head; i < this.#queue.length; i++) this.#fail(this.#queue[i]!, err);
    this.#queue = [];
    this.#head = 0;
    if (this.#checkTimer) clearTimeout(this.#checkTimer);
    this.#checkTimer = null;
    const threads = this.#threads.splice(0);
    for (const t of threads) for (const task of t.jobs.splice(0)) this.#fail(task, err);
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }

  #run<R>(job: Job, signal: AbortSignal | undefined): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const task: Task = { job, resolve: resolve as (v: unknown) => void, reject, done: false, rescued: false };
      if (signal) {
        if (signal.aborted) return reject(signal.reason);
        // Settle at once on abort, queued or running: nobody waits on a stuck thread for a cancelled job.
        const onAbort = () => this.#fail(task, signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        task.resolve = (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v as R);
        };
        task.reject = (e) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        };
      }
      this.#queue.push(task);
      this.#dispatch();
    });
  }

  #fail(task: Task, err: unknown): void {
    if (task.done) return;
    task.done = true;
    task.reject(err);
  }

  #next(): Task | undefined {
    while (this.#head < this.#queue.length) {
      const task = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as unknown as Task;
      if (this.#head === this.#queue.length) {
        this.#queue = [];
        this.#head = 0;
      }
      if (task.done) continue; // cancelled, or a rescued copy already answered
      return task;
    }
    return undefined;
  }

  get #waiting(): number {
    return this.#queue.length - this.#head;
  }

  #isSlow(t: Thread, now: number): boolean {
    return t.online && t.jobs.length > 0 && now - t.since >= this.#slowMs;
  }

  #dispatch(): void {
    const now = performance.now();
    const healthy: Thread[] = [];
    for (const t of this.#threads) {
      if (!this.#isSlow(t, now)) {
        healthy.push(t);
        continue;
      }
      // Jobs waiting behind a slow call: run copies elsewhere.
      for (let i = 1; i < t.jobs.length; i++) {
        const task = t.jobs[i]!;
        if (task.done || task.rescued) continue;
        task.rescued = true;
        this.#queue.splice(this.#head, 0, task);
      }
    }
    // Fill the first running healthy thread's pipeline, then the next one's. A thread still starting
    // (~50 ms) gets jobs only if no other can take them: a job handed to it would wait out its start.
    const running = healthy.filter((t) => t.online);
    for (const t of running.length ? running : healthy.slice(0, 1)) while (t.jobs.length < PIPELINE && this.#waiting > 0 && this.#give(t, now));
    // Still a backlog: another thread, up to `parallel` healthy ones, or up to maxThreads when all are slow.
    // One for spreading only once the backlog has lasted spreadAfterMs: starting a thread costs ~50 ms of
    // CPU, more than a short walk gains. It takes jobs once it runs (see #spawn), unless nothing else can.
    if (this.#waiting > 0 && this.#threads.length < this.#max && healthy.length < this.#parallel) {
      if (healthy.length === 0) this.#give(this.#spawn(), now);
      else if (running.length > 0 && running.every((t) => t.jobs.length > 0 && now - t.busySince >= this.#spreadAfterMs)) this.#spawn();
    }
    this.#armCheck(now);
  }

  /** While some thread is working, look again when its current job would turn slow. */
  #armCheck(now: number): void {
    if (this.#checkTimer !== null) return;
    let first = Infinity;
    for (const t of this.#threads) if (t.online && t.jobs.length > 0 && now - t.since < this.#slowMs) first = Math.min(first, t.since + this.#slowMs);
    if (first === Infinity) return;
    this.#checkTimer = setTimeout(
      () => {
        this.#checkTimer = null;
        this.#dispatch();
      },
      Math.max(1, first - now),
    );
    this.#checkTimer.unref();
  }

  #give(t: Thread, now: number): boolean {
    const task = this.#next();
    if (!task) return false;
    if (t.idleTimer) clearTimeout(t.idleTimer);
    t.idleTimer = null;
    if (t.jobs.length === 0) t.since = t.busySince = now;
    t.jobs.push(task);
    t.worker.ref();
    t.worker.postMessage(task.job);
    return true;
  }

  #spawn(): Thread {
    const worker = new Worker(FS_THREAD_CODE, { eval: true, name: 'clustrix-fs' });
    const t: Thread = { worker, jobs: [], since: 0, busySince: 0, online: false, idleTimer: null };
    this.#threads.push(t);
    worker.once('online', () => {
      t.online = true;
      // Its jobs waited for the start; they count as running (and keeping it busy) from now.
      t.since = t.busySince = performance.now();
      this.#dispatch();
      if (t.jobs.length === 0 && this.#threads.includes(t)) this.#idle(t);
    });
    worker.on('message', (out: { fatal?: string }) => {
      const task = t.jobs.shift();
      t.since = performance.now();
      if (task && !task.done) {
        task.done = true;
        if (out.fatal !== undefined) task.reject(new Error(`fs thread: ${out.fatal}`));
        else task.resolve(out);
      }
      this.#dispatch();
      if (t.jobs.length === 0) this.#idle(t);
    });
    worker.on('error', (err) => this.#lost(t, err));
    worker.on('exit', (code) => this.#lost(t, new Error(`fs thread exited with code ${code}`)));
    return t;
  }

  #idle(t: Thread): void {
    t.worker.unref();
    t.idleTimer = setTimeout(() => {
      if (t.jobs.length > 0) return;
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
    for (const task of t.jobs.splice(0)) this.#fail(task, err);
    this.#dispatch();
  }
}

let shared: FsThreads | undefined;

/** The agent's one pool (created on first use). */
export function fsThreads(): FsThreads {
  return (shared ??= new FsThreads());
}
