/**
 * Run TypeScript/JavaScript exports on the cluster as jobs.
 *
 *   const mod = new URL('./train.ts', import.meta.url);
 *   const loss = await cluster.run<typeof import('./train.js').train>(mod, 'train', [{ lr: 0.1 }], { resources: { cpus: 4 } });
 *   const score = cluster.remote<typeof import('./train.js').score>(mod, 'score');
 *   await score(42);                                        // one job per call
 *   const all = await cluster.map(mod, 'score', [1, 2, 3]);  // ONE job array, results in input order
 *
 * Arguments and results travel with protocol/values.ts (Map, Set, Date,
 * bigint, typed arrays and Buffers survive; functions and class instances
 * are refused before anything is submitted). A thrown error comes back with
 * its class (built-in ones), name, message, remote stack, code and fields.
 */
import { assertSendable, encodeValue } from '../../protocol/values.js';
import type { Connection } from '../connection.js';
import type { EnvsApi } from '../envs.js';
import type { FsApi } from '../fs.js';
import { BundleCache } from './bundle.js';
import { jobsGet } from '../../protocol/index.js';
import type { CallOptions } from '../connection.js';
import { FunctionCall, MapCall, type Started } from './call.js';
import { submitCall, type CallReport, type FunctionOptions } from './submit.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyFn = (...args: any[]) => any;

export interface MapOptions extends FunctionOptions {
  /** Items per array task. Default: 1, or more so the array has at most 1,000 tasks. */
  chunkSize?: number;
  /** Array tasks running at once; default no limit (the scheduler's). */
  maxConcurrent?: number;
}

/** Tasks a map makes at most when no chunkSize is given. */
export const DEFAULT_MAX_MAP_TASKS = 1000;

const started = (report: CallReport): Started => ({ job: report.job, existing: report.existing, report });

/** `timeoutMs` bounds the whole call (the handle enforces it), not the submit request. */
function withoutTimeout<T extends { timeoutMs?: number }>(o: T): Omit<T, 'timeoutMs'> {
  const { timeoutMs: _t, ...rest } = o;
  return rest;
}

export class FunctionsApi {
  readonly #deps: { conn: Connection; fs: FsApi; envs: EnvsApi; bundles: BundleCache };

  constructor(conn: Connection, fs: FsApi, envs: EnvsApi) {
    this.#deps = { conn, fs, envs, bundles: new BundleCache() };
  }

  /** Run `exportName(...args)` of `module` as one job. Await it for the result; iterate it for progress. */
  run<F extends AnyFn = AnyFn>(module: string | URL, exportName: string, args: Parameters<F>, o: FunctionOptions = {}): FunctionCall<Awaited<ReturnType<F>>> {
    const list = [...(args as unknown[])];
    let input: Uint8Array | null = null;
    let early: unknown = null;
    try {
      input = encodeValue(list, 'args');
    } catch (err) {
      early = err;
    }
    return new FunctionCall<Awaited<ReturnType<F>>>(
      this.#deps.conn,
      (signal) => (early ? Promise.reject(early) : submitCall(this.#deps, module, exportName, 'run', [input!], { ...withoutTimeout(o), signal }).then(started)),
      o,
    );
  }

  /** An async function that runs the export as a job on each call. */
  remote<F extends AnyFn = AnyFn>(
    module: string | URL,
    exportName: string,
    o: FunctionOptions = {},
  ): (...args: Parameters<F>) => FunctionCall<Awaited<ReturnType<F>>> {
    return (...args: Parameters<F>) => this.run<F>(module, exportName, args, o);
  }

  /**
   * `exportName(item)` for every item, as ONE job array (items grouped
   * `chunkSize` per task). Resolves with the results in input order; if some
   * items failed it rejects with a MapError holding every item's outcome
   * (`settled()` gives them without rejecting).
   */
  map<F extends AnyFn = AnyFn>(
    module: string | URL,
    exportName: string,
    items: Iterable<Parameters<F>[0]>,
    o: MapOptions = {},
  ): MapCall<Awaited<ReturnType<F>>> {
    const all = [...items];
    const chunkSize = o.chunkSize ?? Math.max(1, Math.ceil(all.length / DEFAULT_MAX_MAP_TASKS));
    let inputs: Uint8Array[] = [];
    let early: unknown = null;
    try {
      if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new RangeError(`chunkSize must be a whole number >= 1 (got ${o.chunkSize})`);
      // Check each item on its own so an error names items[i], not a chunk.
      all.forEach((item, i) => assertSendable(item, `items[${i}]`));
      for (let start = 0; start < all.length; start += chunkSize) inputs.push(encodeValue({ start, items: all.slice(start, start + chunkSize) }, 'items'));
    } catch (err) {
      early = err;
      inputs = [];
    }
    const { chunkSize: _c, maxConcurrent, ...rest } = o;
    return new MapCall<Awaited<ReturnType<F>>>(
      this.#deps.conn,
      (signal) => {
        if (early) return Promise.reject(early);
        if (all.length === 0) return Promise.resolve(null);
        return submitCall(this.#deps, module, exportName, 'map', inputs, {
          ...withoutTimeout(rest),
          items: all.length,
          chunkSize,
          ...(maxConcurrent ? { maxConcurrent } : {}),
          signal,
        }).then(started);
      },
      o,
      { items: all.length, chunkSize },
    );
  }

  /**
   * The handle of a `run` call made earlier (by this process or another):
   * wait for it and get its result, e.g. after the connection was lost while
   * it ran. Results stay in the job dir until the job is removed.
   */
  attach<T = unknown>(jobId: string, o: CallOptions = {}): FunctionCall<T> {
    return new FunctionCall<T>(this.#deps.conn, (signal) => this.#existing(jobId, signal), o);
  }

  /** The handle of an earlier `map` call: results in input order, as `map` gives them. */
  attachMap<R = unknown>(jobId: string, o: CallOptions = {}): MapCall<R> {
    return new MapCall<R>(this.#deps.conn, (signal) => this.#existing(jobId, signal), o, null);
  }

  async #existing(jobId: string, signal: AbortSignal): Promise<Started> {
    const job = await this.#deps.conn.call(jobsGet, { id: jobId }, { signal });
    return { job, existing: true, report: null };
  }
}

export { BundleCache, BundleError, bundleModule, type Bundle, type BundleOptions, type BundledPackage, type ExternalPackage } from './bundle.js';
export { FunctionCall, MapCall } from './call.js';
export { FunctionJobError, MapError, type RemoteOrigin, type Settled } from './errors.js';
export type { CallReport, FunctionOptions } from './submit.js';
export type { UploadedPackage } from './externals.js';
