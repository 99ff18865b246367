/**
 * Handles of running calls. Both are awaitable (the result) and async
 * iterable (progress events while the job runs):
 *
 *   const call = cluster.run(mod, 'train', [cfg]);
 *   for await (const ev of call) console.log(ev.data);   // progress(), live
 *   const model = await call;                            // the result, or the remote exception
 *
 * A call starts at once. Aborting its signal (or `cancel()`) cancels the job.
 */
import { isTerminal, type JobInfo, type ProgressEvent } from '../../protocol/index.js';
import { decodeValue } from '../../protocol/values.js';
import type { CallOptions, Connection } from '../connection.js';
import { Job } from '../jobs.js';
import { FunctionJobError, MapError, tagOrigin, type Settled } from './errors.js';
import { ConnectionError } from '../errors.js';
import { fetchResults, type CallReport, type FetchedResults } from './submit.js';

/** Never let a promise the caller may ignore become an unhandled rejection. */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

/** What a call starts from: a fresh submission (with its report), an existing job (attach), or nothing (an empty map). */
export type Started = { job: JobInfo; existing: boolean; report: CallReport | null } | null;

/** Times the wait for a job is resumed after the link dropped (SSH connections reconnect). */
const RESUME_ATTEMPTS = 3;

abstract class BaseCall<T> implements PromiseLike<T>, AsyncIterable<ProgressEvent> {
  /**
   * Resolves once the job is accepted: bundle, upload, env and job facts
   * (null: nothing was submitted — an empty map, or a call attached to an existing job).
   */
  readonly submitted: Promise<CallReport | null>;
  /** The call's outcome (what `await call` gives). */
  readonly result: Promise<T>;
  protected readonly conn: Connection;
  readonly #ac = new AbortController();
  readonly #started: Promise<Started>;
  #job: Job | null = null;
  #final: JobInfo | null = null;

  constructor(conn: Connection, start: (signal: AbortSignal) => Promise<Started>, o: CallOptions) {
    this.conn = conn;
    const signal = o.signal ? AbortSignal.any([o.signal, this.#ac.signal]) : this.#ac.signal;
    if (o.timeoutMs) {
      const t = setTimeout(() => this.#ac.abort(new Error(`function call did not finish within ${o.timeoutMs} ms`)), o.timeoutMs);
      t.unref?.();
    }
    this.#started = quiet(start(signal));
    this.submitted = quiet(this.#started.then((s) => s?.report ?? null));
    this.result = quiet(this.#run(signal));
  }

  /** The job, once submitted. */
  get job(): Job | null {
    return this.#job;
  }

  /** The job's final state (after the call settled). */
  get jobInfo(): JobInfo | null {
    return this.#final;
  }

  async #run(signal: AbortSignal): Promise<T> {
    const started = await this.#started;
    if (!started) return this.settle(null, { results: new Map(), summary: null });
    const job = new Job(this.conn, started.job, started.existing);
    this.#job = job;
    const onAbort = () => void job.cancel().catch(() => {});
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          const final = job.state !== undefined && isTerminal(job.state) ? await job.refresh() : await job.wait({ signal });
          this.#final = final;
          return this.settle(final, await fetchResults(this.conn, final.id, {}));
        } catch (err) {
          if (signal.aborted && !(err instanceof FunctionJobError)) throw signal.reason ?? err;
          if (!(err instanceof ConnectionError)) throw err;
          // The job goes on without us: wait again once the connection is back (SSH ones reconnect).
          if (err.kind === 'closed' && attempt < RESUME_ATTEMPTS) {
            await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
            continue;
          }
          throw new ConnectionError(
            err.kind,
            `${err.message} — job ${job.id} goes on and keeps its result: cluster.functions.attach('${job.id}') once connected again`,
            { cause: err, ...(err.details ? { details: err.details } : {}) },
          );
        }
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  protected abstract settle(job: JobInfo | null, r: FetchedResults): T;

  then<A = T, B = never>(
    onFulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.result.then(onFulfilled, onRejected);
  }

  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<T | B> {
    return this.result.catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<T> {
    return this.result.finally(onFinally);
  }

  /** Cancel the job (the call then rejects). */
  cancel(reason?: unknown): void {
    this.#ac.abort(reason ?? new Error('function call cancelled'));
  }

  /** Progress events while the job runs; ends when the job has ended. */
  async *[Symbol.asyncIterator](): AsyncIterator<ProgressEvent> {
    const started = await this.#started;
    if (!started) return;
    const stream = new Job(this.conn, started.job, started.existing).progress({ signal: this.#ac.signal });
    try {
      yield* stream;
    } finally {
      stream.cancel();
    }
  }
}

/** Decode one outcome: the value, or the remote exception (tagged with where it came from). */
function outcome(o: { ok: boolean; bytes: Uint8Array }, origin: { jobId: string; task?: number; item?: number; host?: string }): Settled<unknown> {
  const v = decodeValue(o.bytes);
  return o.ok ? { ok: true, value: v } : { ok: false, error: tagOrigin(v, origin) };
}

/** A `run` call: one job, one result. */
export class FunctionCall<T> extends BaseCall<T> {
  protected settle(job: JobInfo | null, { results, summary }: FetchedResults): T {
    if (!job) throw new Error('run: no job was submitted');
    if (summary && summary.mode !== 'run') throw new TypeError(`job ${job.id} is a map call: attach it with functions.attachMap`);
    const r = results.get(undefined);
    if (r === undefined || typeof r === 'string') throw new FunctionJobError(job, r ?? 'no result was returned');
    const first = r.outcomes[0];
    if (!first) throw new FunctionJobError(job, 'the result file holds no outcome');
    const s = outcome(first, { jobId: job.id, ...(r.host ? { host: r.host } : {}) });
    if (s.ok) return s.value as T;
    throw s.error;
  }
}

/** A `map` call: one job array; results in input order. */
export class MapCall<R> extends BaseCall<R[]> {
  /** Items and chunk size when this side made the call; else (attach) read from the call's record. */
  readonly #shape: { items: number; chunkSize: number } | null;
  #settled: Settled<R>[] | null = null;

  constructor(conn: Connection, start: (signal: AbortSignal) => Promise<Started>, o: CallOptions, shape: { items: number; chunkSize: number } | null) {
    super(conn, start, o);
    this.#shape = shape;
  }

  /** Every item's outcome in input order, whether or not some failed (never rejects for an item's failure). */
  async settled(): Promise<Settled<R>[]> {
    try {
      await this.result;
    } catch (err) {
      if (!this.#settled) throw err;
    }
    return this.#settled!;
  }

  protected settle(job: JobInfo | null, { results, summary }: FetchedResults): R[] {
    if (!job) {
      this.#settled = [];
      return [];
    }
    if (summary && summary.mode !== 'map') throw new TypeError(`job ${job.id} is a run call: attach it with functions.attach`);
    const shape = this.#shape ?? (summary?.items != null && summary.chunkSize != null ? { items: summary.items, chunkSize: summary.chunkSize } : null);
    if (!shape) throw new FunctionJobError(job, 'the call record does not say how its items were split');
    const { items, chunkSize } = shape;
    const out: Settled<R>[] = new Array<Settled<R>>(items);
    const tasks = Math.ceil(items / chunkSize);
    for (let t = 0; t < tasks; t++) {
      const r = results.get(t);
      const start = t * chunkSize;
      const end = Math.min(items, start + chunkSize);
      if (r === undefined || typeof r === 'string') {
        const err = new FunctionJobError(job, r ?? 'no result was returned', t);
        for (let i = start; i < end; i++) out[i] = { ok: false, error: err };
        continue;
      }
      for (let i = start; i < end; i++) {
        const o = r.outcomes[i - start];
        out[i] = o
          ? (outcome(o, { jobId: job.id, task: t, item: i, ...(r.host ? { host: r.host } : {}) }) as Settled<R>)
          : { ok: false, error: new FunctionJobError(job, `the result of task ${t} has no outcome for item ${i}`, t) };
      }
    }
    this.#settled = out;
    if (out.every((s) => s.ok)) return out.map((s) => (s as { value: R }).value);
    throw new MapError(out);
  }
}
