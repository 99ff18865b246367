/**
 * `cluster.jobs`: submit, get, list, cancel, watch, and a Job handle with
 * events(), wait() and logs().
 *
 *   const job = await cluster.jobs.submit({ command: ['python', 'train.py'], resources: { cpus: 4, memory: '8G', time: '2h' } });
 *   for await (const ev of job.events()) console.log(ev.state);
 *   const done = await job.wait();            // JobInfo with state, exitCode, stderrTail
 *   for await (const chunk of job.logs({ follow: true })) process.stdout.write(chunk);
 *
 * Every submit carries an idempotency key (a random UUID unless given): a
 * retry with the same key after a dropped connection returns the original
 * job, never a second one.
 */
import { randomUUID } from 'node:crypto';
import * as m from '../protocol/methods/jobs.js';
import {
  isTerminal,
  type DetectResult,
  type JobEvent,
  type JobInfo,
  type JobSpecInput,
  type JobState,
  type JobsStats,
  type LogsSummary,
  type ProgressEvent,
  type SchedulerName,
} from '../protocol/index.js';
import type { CallOptions, Connection, RemoteStream } from './connection.js';
import { RemoteError } from './errors.js';

export type JobSpec = JobSpecInput;

export interface SubmitOptions extends CallOptions {
  /** Reuse to make a retry safe; default: a fresh UUID per call. */
  idempotencyKey?: string;
  /** Default: what the agent detected on its host. */
  scheduler?: SchedulerName;
}

export interface ListOptions extends CallOptions {
  which?: 'active' | 'terminal' | 'all';
  states?: JobState[];
  limit?: number;
  /** Jobs submitted at/after this time (ms since epoch or a Date). */
  since?: number | Date;
}

export interface WatchOptions extends CallOptions {
  /** Also report each array task's changes. */
  tasks?: boolean;
  /** End the stream once every watched job is terminal. */
  untilDone?: boolean;
}

export interface LogsOptions extends CallOptions {
  stream?: 'stdout' | 'stderr';
  /** Array task index (default: the first). */
  task?: number;
  offset?: number;
  /** Start this many bytes before the end. */
  tail?: number;
  /** Keep following until the job ends. */
  follow?: boolean;
}

/** An async iterable of events that can be stopped. */
export interface EventStream extends AsyncIterable<JobEvent> {
  cancel(): void;
}

export interface ProgressOptions extends CallOptions {
  /** Only this array task. */
  task?: number;
  /** Keep streaming until the job ends (default true); false: what is there now. */
  follow?: boolean;
  /** Resume: per task key ("job" or the index) → the next `seq` wanted. */
  after?: Record<string, number>;
}

/** Progress events of a job (JSON lines appended to $CLUSTRIX_EVENTS), in order per task. */
export interface ProgressStream extends AsyncIterable<ProgressEvent> {
  cancel(): void;
}

/** Bytes of a job's output; `text()` collects them. */
export interface LogStream extends AsyncIterable<Uint8Array> {
  readonly result: Promise<LogsSummary>;
  text(): Promise<string>;
  cancel(): void;
}

function callOpts(o: CallOptions | undefined): CallOptions {
  const c: CallOptions = {};
  if (o?.signal) c.signal = o.signal;
  if (o?.timeoutMs !== undefined) c.timeoutMs = o.timeoutMs;
  return c;
}

function flattenEvents(s: RemoteStream<JobEvent[], unknown>): EventStream {
  return {
    cancel: () => s.cancel(),
    async *[Symbol.asyncIterator]() {
      for await (const batch of s) yield* batch;
    },
  };
}

export class JobsApi {
  readonly #c: Connection;
  constructor(conn: Connection) {
    this.#c = conn;
  }

  /** Submit a job; resolves once the scheduler accepted it. `job.existing` tells a replayed key. */
  async submit(spec: JobSpec, o: SubmitOptions = {}): Promise<Job> {
    const params: { spec: JobSpec; idempotencyKey: string; scheduler?: SchedulerName } = { spec, idempotencyKey: o.idempotencyKey ?? randomUUID() };
    if (o.scheduler) params.scheduler = o.scheduler;
    const r = await this.#c.call(m.jobsSubmit, params, callOpts(o));
    return new Job(this.#c, r.job, r.existing);
  }

  /** A handle for a job id (no round trip). */
  job(id: string): Job {
    return new Job(this.#c, null, false, id);
  }

  /** Full info: spec and per-task states included. `refresh` polls the scheduler first. */
  get(id: string, o: CallOptions & { refresh?: boolean } = {}): Promise<JobInfo> {
    return this.#c.call(m.jobsGet, { id, refresh: o.refresh ?? false }, callOpts(o));
  }

  list(o: ListOptions = {}): Promise<JobInfo[]> {
    const p: { which?: 'active' | 'terminal' | 'all'; states?: JobState[]; limit?: number; since?: number } = {};
    if (o.which) p.which = o.which;
    if (o.states) p.states = o.states;
    if (o.limit !== undefined) p.limit = o.limit;
    if (o.since !== undefined) p.since = o.since instanceof Date ? o.since.getTime() : o.since;
    return this.#c.call(m.jobsList, p, callOpts(o));
  }

  /** Cancel a job, or only some of its array tasks. Cancelling a finished job is not an error. */
  cancel(id: string, o: CallOptions & { tasks?: number[] } = {}): Promise<JobInfo> {
    return this.#c.call(m.jobsCancel, o.tasks ? { id, tasks: o.tasks } : { id }, callOpts(o));
  }

  /** State changes of these jobs (all jobs when omitted); the first events are a snapshot. */
  watch(ids?: string[], o: WatchOptions = {}): EventStream {
    const p: { ids?: string[]; untilDone?: boolean; tasks?: boolean } = {};
    if (ids) p.ids = ids;
    if (o.untilDone) p.untilDone = true;
    if (o.tasks) p.tasks = true;
    return flattenEvents(this.#c.stream(m.jobsWatch, p, { ...callOpts(o), timeoutMs: o.timeoutMs ?? 0 }));
  }

  logs(id: string, o: LogsOptions = {}): LogStream {
    const p: { id: string; stream?: 'stdout' | 'stderr'; task?: number; offset?: number; tail?: number; follow?: boolean } = { id };
    if (o.stream) p.stream = o.stream;
    if (o.task !== undefined) p.task = o.task;
    if (o.offset !== undefined) p.offset = o.offset;
    if (o.tail !== undefined) p.tail = o.tail;
    if (o.follow) p.follow = true;
    const s = this.#c.stream(m.jobsLogs, p, { ...callOpts(o), timeoutMs: o.timeoutMs ?? 0 });
    return {
      result: s.result,
      cancel: () => s.cancel(),
      [Symbol.asyncIterator]: () => s[Symbol.asyncIterator](),
      async text() {
        const parts: Buffer[] = [];
        for await (const c of s) parts.push(Buffer.from(c));
        await s.result;
        return Buffer.concat(parts).toString('utf8');
      },
    };
  }

  /** Events the job's tasks emit while they run: `progress()` of `clustrix/job`, or JSON lines appended to `$CLUSTRIX_EVENTS`. */
  progress(id: string, o: ProgressOptions = {}): ProgressStream {
    const p: { id: string; task?: number; follow?: boolean; after?: Record<string, number> } = { id };
    if (o.task !== undefined) p.task = o.task;
    if (o.follow !== undefined) p.follow = o.follow;
    if (o.after) p.after = o.after;
    const s = this.#c.stream(m.jobsProgress, p, { ...callOpts(o), timeoutMs: o.timeoutMs ?? 0 });
    return {
      cancel: () => s.cancel(),
      async *[Symbol.asyncIterator]() {
        for await (const batch of s) yield* batch;
      },
    };
  }

  /** The agent's poller counters (scheduler calls by command, interval, watched jobs). */
  stats(o?: CallOptions): Promise<JobsStats> {
    return this.#c.call(m.jobsStats, {}, callOpts(o));
  }

  /** Which scheduler the agent's host has. */
  detect(o?: CallOptions): Promise<DetectResult> {
    return this.#c.call(m.jobsDetect, {}, callOpts(o));
  }
}

export class Job {
  readonly id: string;
  /** True when submit() found the idempotency key already used: this is the original job. */
  readonly existing: boolean;
  readonly #c: Connection;
  #info: JobInfo | null;

  constructor(conn: Connection, info: JobInfo | null, existing: boolean, id?: string) {
    this.#c = conn;
    this.#info = info;
    this.id = info?.id ?? id!;
    this.existing = existing;
  }

  /** The last info seen (from submit, refresh, events or wait). */
  get info(): JobInfo | null {
    return this.#info;
  }

  get state(): JobState | undefined {
    return this.#info?.state;
  }

  async refresh(o: CallOptions & { refresh?: boolean } = {}): Promise<JobInfo> {
    this.#info = await this.#c.call(m.jobsGet, { id: this.id, refresh: o.refresh ?? false }, callOpts(o));
    return this.#info;
  }

  async cancel(o: CallOptions & { tasks?: number[] } = {}): Promise<JobInfo> {
    this.#info = await this.#c.call(m.jobsCancel, o.tasks ? { id: this.id, tasks: o.tasks } : { id: this.id }, callOpts(o));
    return this.#info;
  }

  /** This job's state changes, starting with its current state; ends when it is terminal. */
  events(o: WatchOptions = {}): EventStream {
    const p: { ids: string[]; untilDone: boolean; tasks?: boolean } = { ids: [this.id], untilDone: o.untilDone ?? true };
    if (o.tasks) p.tasks = true;
    const s = flattenEvents(this.#c.stream(m.jobsWatch, p, { ...callOpts(o), timeoutMs: o.timeoutMs ?? 0 }));
    const remember = (info: JobInfo) => {
      this.#info = info;
    };
    return {
      cancel: () => s.cancel(),
      async *[Symbol.asyncIterator]() {
        for await (const ev of s) {
          if (ev.task === undefined) remember(ev.job);
          yield ev;
        }
      },
    };
  }

  /**
   * Resolve with the final JobInfo once the job is terminal (whatever the
   * outcome: check `state`/`exitCode`). `timeoutMs` rejects with TIMEOUT.
   */
  async wait(o: CallOptions = {}): Promise<JobInfo> {
    const ac = new AbortController();
    const timer = o.timeoutMs
      ? setTimeout(() => ac.abort(new RemoteError({ code: 'TIMEOUT', message: `job ${this.id} did not finish within ${o.timeoutMs} ms` })), o.timeoutMs)
      : null;
    const onAbort = () => ac.abort(o.signal?.reason);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const s = this.events({ signal: ac.signal, untilDone: true });
      for await (const ev of s) {
        if (ev.task === undefined && isTerminal(ev.state)) {
          s.cancel();
          return ev.job;
        }
      }
      // The stream ended: the job was already terminal at the snapshot.
      return await this.refresh();
    } catch (err) {
      if (ac.signal.aborted && ac.signal.reason instanceof RemoteError) throw ac.signal.reason;
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
    }
  }

  logs(o: LogsOptions = {}): LogStream {
    return new JobsApi(this.#c).logs(this.id, o);
  }

  /** Progress events while it runs (ends when the job has ended and its events are drained). */
  progress(o: ProgressOptions = {}): ProgressStream {
    return new JobsApi(this.#c).progress(this.id, o);
  }
}
