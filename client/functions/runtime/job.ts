/**
 * `clustrix/job`: what code running inside a clustrix job may use.
 *
 *   import { progress } from 'clustrix/job';
 *   for (let epoch = 0; epoch < 10; epoch++) { …; progress({ epoch, loss }); }
 *
 * `progress(data)` appends one JSON line to `$CLUSTRIX_EVENTS`; the caller
 * receives it while the job runs (`for await (const ev of call)` /
 * `job.progress()`). Any language can do the same by appending a JSON line
 * to that file. Outside a clustrix job it does nothing.
 */
import { appendFileSync } from 'node:fs';

/** Set by the function runner: the index of the `map` item being processed. */
export const CURRENT_ITEM = Symbol.for('clustrix.fn.item');

/**
 * Emit a progress event (any JSON-serializable value). Synchronous, one
 * `write(2)` per event: cheap enough for a few events a second, not for
 * millions.
 */
export function progress(data: unknown): void {
  const file = process.env.CLUSTRIX_EVENTS;
  if (!file) return;
  const item = (globalThis as Record<symbol, unknown>)[CURRENT_ITEM];
  let line: string;
  try {
    line = JSON.stringify({ $clustrix: 1, at: Date.now(), ...(typeof item === 'number' ? { item } : {}), data });
  } catch (err) {
    throw new TypeError(`progress(): the event must be JSON-serializable (${(err as Error).message})`);
  }
  appendFileSync(file, line + '\n');
}

/** This job's clustrix id (undefined outside a job). */
export function jobId(): string | undefined {
  return process.env.CLUSTRIX_JOB_ID;
}

/** The array task index (undefined outside an array task). */
export function taskId(): number | undefined {
  const t = process.env.CLUSTRIX_TASK_ID;
  return t === undefined || t === '' ? undefined : Number(t);
}

/** Node-local scratch for this task, removed when it ends (undefined if the node has none). */
export function scratchDir(): string | undefined {
  return process.env.CLUSTRIX_SCRATCH || undefined;
}
