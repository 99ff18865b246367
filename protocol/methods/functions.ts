/**
 * Functions: run an export of a bundled module as a job (`cluster.run`,
 * `remote`, `map`). The client bundles the module with esbuild and uploads
 * the bundle once, by content hash; arguments travel as the bytes of
 * protocol/values.ts, one input per task; results come back the same way.
 *
 * The agent never decodes arguments or results: it stores and returns bytes.
 */
import * as v from 'valibot';
import { stream, unary, returns } from '../method.js';
import type { FunctionResultChunk, FunctionResultsSummary, FunctionSubmitResult } from '../types/functions.js';
import { JobSpecObject, Scheduler } from './jobs.js';

/** Tasks one call may have (a map over more items puts several in each task). */
export const MAX_FUNCTION_TASKS = 100_000;
/** Largest encoded input of one task, bytes (inputs travel inside one request frame). */
export const MAX_FUNCTION_INPUT_BYTES = 8 * 1024 * 1024;
/** Bytes of one results chunk at most; a bigger result arrives in parts (`more`). */
export const FUNCTION_RESULT_PART_BYTES = 4 * 1024 * 1024;

const Sha256 = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, 'bundle must be the sha256 of the bundle, 64 lowercase hex digits'));
const ExportName = v.pipe(
  v.string('exportName must be a string'),
  v.regex(/^[A-Za-z_$][\w$]*$/, 'exportName must be an identifier (the name of an export, or "default")'),
  v.maxLength(256),
);
const Input = v.pipe(
  v.instance(Uint8Array, 'inputs must be bytes (encoded with protocol/values.ts)'),
  v.check(
    (b) => b.byteLength <= MAX_FUNCTION_INPUT_BYTES,
    `one task's input must be at most ${MAX_FUNCTION_INPUT_BYTES} bytes; pass big data as files on the cluster`,
  ),
);

/** What the job of a function may set: everything a job spec has but what the call decides itself. */
export const FunctionJobSchema = v.omit(JobSpecObject, ['command', 'script', 'array', 'stdout', 'stderr']);

/**
 * Submit a call. `mode: 'run'` has one input (the encoded argument list);
 * `mode: 'map'` has one input per task (an encoded `{ start, items }` chunk)
 * and becomes ONE job array. Fails with NOT_FOUND and
 * `details: { missing: 'bundle', path }` when the bundle is not on the
 * cluster yet: upload it to that path, then submit again.
 */
export const functionsSubmit = unary(
  'functions.submit',
  v.object({
    bundle: Sha256,
    exportName: ExportName,
    mode: v.picklist(['run', 'map'], "mode must be 'run' or 'map'"),
    inputs: v.pipe(v.array(Input), v.minLength(1, 'inputs must not be empty'), v.maxLength(MAX_FUNCTION_TASKS, `at most ${MAX_FUNCTION_TASKS} tasks`)),
    /** Items in all, and per task (map): recorded, so a client can rebuild the results' order later (attach). */
    items: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
    chunkSize: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
    /** Array tasks running at once (map); 0 = no limit. */
    maxConcurrent: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 0),
    job: v.optional(FunctionJobSchema, {}),
    /** Node binary on the compute nodes. Default: the one running the agent. */
    node: v.optional(v.pipe(v.string(), v.regex(/^\//, 'node must be an absolute path'), v.maxLength(4096))),
    idempotencyKey: v.pipe(v.string(), v.minLength(8, 'idempotencyKey must be at least 8 characters'), v.maxLength(200)),
    scheduler: v.optional(Scheduler),
  }),
  returns<FunctionSubmitResult>(),
);

/**
 * The results of a finished call, task by task (`task` absent for `run`).
 * A result file that does not show up within `graceMs` (NFS attribute caches
 * hide files written on other nodes for seconds) is reported `missing`.
 */
export const functionsResults = stream(
  'functions.results',
  v.object({
    id: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
    graceMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(120_000)), 10_000),
  }),
  returns<FunctionResultChunk>(),
  returns<FunctionResultsSummary>(),
);
