/** Types of the functions methods (run, remote, map). */
import type { JobInfo } from './jobs.js';

export interface FunctionSubmitResult {
  job: JobInfo;
  /** True when the idempotency key was used before: this is the original call's job. */
  existing: boolean;
  /** Where the bundle is on the cluster (`<root>/bundles/<sha256>.mjs`). */
  bundlePath: string;
}

/**
 * One piece of a call's results. `bytes` is an encoded outcome list (see
 * `decodeOutcomes`); when `more` is set, the next chunk continues the same
 * task's bytes.
 */
export interface FunctionResultChunk {
  /** Array task index; absent for `run`. */
  task?: number;
  bytes?: Uint8Array;
  more?: boolean;
  /** No result file: why (the task died before writing one, or it never ran). */
  missing?: string;
}

/** What a task writes as its result: one outcome per input (one for `run`). */
export interface FunctionResultFile {
  v: 1;
  /** Global index of the first item (map); 0 for run. */
  start: number;
  /** Each outcome encoded on its own, so one unsendable value spoils only its own item. */
  outcomes: Array<{ ok: boolean; bytes: Uint8Array }>;
  host?: string;
  durationMs?: number;
}

/** What functions.results ends with: the call's own record. */
export interface FunctionResultsSummary {
  tasks: number;
  /** Tasks reported `missing`. */
  missing: number;
  mode: 'run' | 'map';
  /** Items in all and per task (map); null for run or a record that did not say. */
  items: number | null;
  chunkSize: number | null;
}
