/** Failures of function calls that are not the function's own exception. */
import type { JobInfo } from '../../protocol/index.js';
import { ClustrixError } from '../errors.js';

/**
 * The call's job ended without a result for this call or item: it was
 * cancelled, hit its time or memory limit, its node failed, or node itself
 * failed before the function ran (see `stderrTail`).
 */
export class FunctionJobError extends ClustrixError {
  override name = 'FunctionJobError';
  readonly job: JobInfo;
  /** Array task of a map call. */
  readonly task: number | undefined;
  readonly stderrTail: string | undefined;
  constructor(job: JobInfo, why: string, task?: number) {
    const tail = job.stderrTail ? `\n--- stderr (tail) ---\n${job.stderrTail}` : '';
    super(`job ${job.id}${task === undefined ? '' : ` task ${task}`} gave no result: ${why} [${job.state}${job.reason ? `: ${job.reason}` : ''}]${tail}`);
    this.job = job;
    this.task = task;
    this.stderrTail = job.stderrTail;
  }
}

/** One item's outcome in `map(...).settled()`. */
export type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

/** Some items of a `map` failed; the others' results are kept. */
export class MapError<R = unknown> extends ClustrixError {
  override name = 'MapError';
  /** Every item's outcome, in input order. */
  readonly results: Settled<R>[];
  /** Indices of the failed items with their errors. */
  readonly failures: Array<{ index: number; error: unknown }>;
  constructor(results: Settled<R>[]) {
    const failures = results.flatMap((r, index) => (r.ok ? [] : [{ index, error: r.error }]));
    const first = failures[0];
    const what = first ? `; first: items[${first.index}]: ${String((first.error as Error)?.message ?? first.error)}` : '';
    super(`${failures.length} of ${results.length} items failed${what}`);
    this.results = results;
    this.failures = failures;
  }
}

/** Where a remote exception came from (a non-enumerable `clustrix` property on the error). */
export interface RemoteOrigin {
  jobId: string;
  task?: number;
  item?: number;
  host?: string;
}

/** Tag a remote exception with where it was thrown, without changing its class or fields. */
export function tagOrigin<T>(err: T, origin: RemoteOrigin): T {
  if (err !== null && typeof err === 'object') Object.defineProperty(err, 'clustrix', { value: origin, enumerable: false, configurable: true });
  return err;
}
