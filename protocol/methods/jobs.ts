/**
 * Jobs: submit, get, list, cancel, watch (a stream of state changes), logs.
 * The spec schema validates AND normalizes: memory becomes MiB, time seconds,
 * arrays a sorted index list, so the agent receives one shape whatever the
 * caller wrote ("4G" or 4096, "1:30:00" or 5400, "0-9%2" or { size: 10 }).
 */
import * as v from 'valibot';
import { stream, unary, returns } from '../method.js';
import { Count } from '../schemas.js';
import {
  SCHEDULERS,
  JOB_STATES,
  type DetectResult,
  type JobEvent,
  type JobInfo,
  type JobsStats,
  type LogsSummary,
  type ProgressEvent,
  type SchedulerName,
  type SubmitResult,
} from '../types/jobs.js';

/** Largest array accepted (tasks), before any site limit splits it. */
export const MAX_ARRAY_TASKS = 1_000_000;
/** Largest array index accepted. */
export const MAX_ARRAY_INDEX = 2 ** 31 - 2;
/** Largest script accepted, bytes. */
export const MAX_SCRIPT_BYTES = 1024 * 1024;

// ---------------------------------------------------------------------------
// Pure parsers (also used by the CLI).

const MEM_UNITS: Record<string, number> = { K: 1 / 1024, M: 1, G: 1024, T: 1024 * 1024, P: 1024 * 1024 * 1024 };

/** "4G", "512M", "1.5GB", "2048" (MiB), 4096 (MiB) → MiB, rounded up. Null when unreadable. */
export function parseMemoryMb(x: number | string): number | null {
  if (typeof x === 'number') return Number.isFinite(x) && x > 0 ? Math.ceil(x) : null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGTP])?(?:i?B)?\s*$/i.exec(x);
  if (!m) return null;
  const n = Number(m[1]) * MEM_UNITS[(m[2] ?? 'M').toUpperCase()]!;
  return n > 0 && Number.isFinite(n) ? Math.ceil(n) : null;
}

/**
 * Wall time → seconds. Numbers are seconds. Strings: Slurm forms ("MM",
 * "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM", "D-HH:MM:SS") or a unit suffix
 * ("90s", "30m", "2h", "1d", "1h30m"). Null when unreadable.
 */
export function parseDurationSec(x: number | string): number | null {
  if (typeof x === 'number') return Number.isFinite(x) && x > 0 ? Math.ceil(x) : null;
  const s = x.trim();
  let m = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(s);
  if (m) {
    const [d, a, b, c] = [m[1], m[2], m[3], m[4]].map((p) => (p === undefined ? undefined : Number(p)));
    let sec: number;
    if (d !== undefined) sec = d * 86400 + a! * 3600 + (b ?? 0) * 60 + (c ?? 0);
    else if (c !== undefined) sec = a! * 3600 + b! * 60 + c;
    else if (b !== undefined) sec = a! * 60 + b;
    else sec = a! * 60; // a bare number is minutes, like sbatch -t
    return sec > 0 ? sec : null;
  }
  m = /^(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m(?:in)?)?\s*(?:(\d+)s)?$/i.exec(s);
  if (m && (m[1] ?? m[2] ?? m[3] ?? m[4]) !== undefined) {
    const sec = Number(m[1] ?? 0) * 86400 + Number(m[2] ?? 0) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
    return sec > 0 ? sec : null;
  }
  return null;
}

/**
 * Array index expression → sorted unique indices. "0-9", "1-10:2,15", "3,5,7".
 * Throws a message naming the problem.
 */
export function parseIndices(expr: string): number[] {
  const out = new Set<number>();
  for (const part of expr.split(',')) {
    const m = /^\s*(\d+)(?:-(\d+)(?::(\d+))?)?\s*$/.exec(part);
    if (!m) throw new Error(`bad array index expression "${part}" (use e.g. 0-99, 1-9:2, 3,5,7)`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    const step = m[3] === undefined ? 1 : Number(m[3]);
    if (hi < lo) throw new Error(`array range "${part}" ends before it starts`);
    if (step < 1) throw new Error(`array step in "${part}" must be at least 1`);
    if (hi > MAX_ARRAY_INDEX) throw new Error(`array index ${hi} is too large`);
    if (out.size + (hi - lo) / step + 1 > MAX_ARRAY_TASKS) throw new Error(`array larger than ${MAX_ARRAY_TASKS} tasks`);
    for (let i = lo; i <= hi; i += step) out.add(i);
  }
  if (out.size === 0) throw new Error('array has no tasks');
  return [...out].sort((a, b) => a - b);
}

/** Sorted unique indices → compact expression ("0-999", "1-9:2,20"). */
export function formatIndices(indices: readonly number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < indices.length) {
    const start = indices[i]!;
    if (i + 1 >= indices.length) {
      parts.push(String(start));
      break;
    }
    const step = indices[i + 1]! - start;
    let j = i + 1;
    while (j + 1 < indices.length && indices[j + 1]! - indices[j]! === step) j++;
    const n = j - i + 1;
    if (n >= 3 || (n === 2 && step === 1)) {
      parts.push(step === 1 ? `${start}-${indices[j]}` : `${start}-${indices[j]}:${step}`);
      i = j + 1;
    } else {
      parts.push(String(start));
      i++;
    }
  }
  return parts.join(',');
}

// ---------------------------------------------------------------------------
// Schemas.

const NoNul = (what: string) => v.check((s: string) => !s.includes('\0'), `${what} must not contain NUL bytes`);
const Str = (what: string, max = 4096) =>
  v.pipe(
    v.string(`${what} must be a string`),
    v.minLength(1, `${what} must not be empty`),
    v.maxLength(max, `${what} longer than ${max} characters`),
    NoNul(what),
  );
/** Values that become one argv word of a scheduler command: no newlines either. */
const Word = (what: string, max = 256) =>
  v.pipe(
    Str(what, max),
    v.check((s) => !/[\n\r]/.test(s), `${what} must be one line`),
  );
const PosInt = (what: string) =>
  v.pipe(v.number(`${what} must be a number`), v.integer(`${what} must be a whole number`), v.minValue(1, `${what} must be at least 1`));

const Memory = v.pipe(
  v.union([v.number(), v.string()], 'memory must be MiB (number) or a size like "4G"'),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const mb = parseMemoryMb(dataset.value);
    if (mb === null) {
      addIssue({ message: `memory "${dataset.value}" is not a size (use MiB as a number, or e.g. 512M, 4G)` });
      return NEVER;
    }
    return mb;
  }),
);

const Duration = v.pipe(
  v.union([v.number(), v.string()], 'time must be seconds (number) or like "1:30:00", "2-00:00:00", "90m"'),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const s = parseDurationSec(dataset.value);
    if (s === null) {
      addIssue({ message: `time "${dataset.value}" is not a duration (use seconds, or e.g. 30 (minutes), 1:30:00, 2-00:00:00, 90m, 2h)` });
      return NEVER;
    }
    return s;
  }),
);

const Gpus = v.union(
  [PosInt('gpus'), v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]+:[1-9]\d*$|^[1-9]\d*$/, 'gpus must be a count or "type:count" like "a100:2"'))],
  'gpus must be a count or "type:count"',
);

const Resources = v.object({
  cpus: v.optional(PosInt('cpus')),
  memory: v.optional(Memory),
  time: v.optional(Duration),
  gpus: v.optional(Gpus),
  nodes: v.optional(PosInt('nodes')),
  tasks: v.optional(PosInt('tasks')),
  partition: v.optional(Word('partition', 128)),
  /** Alias of partition (SGE/PBS/LSF say queue). */
  queue: v.optional(Word('queue', 128)),
  account: v.optional(Word('account', 128)),
  qos: v.optional(Word('qos', 128)),
  constraint: v.optional(Word('constraint', 1024)),
  exclusive: v.optional(v.boolean('exclusive must be true or false')),
});

export interface ArrayOut {
  indices: number[];
  maxConcurrent: number;
}

function arrayFrom(x: unknown): ArrayOut | string {
  try {
    if (typeof x === 'number') {
      if (!Number.isInteger(x) || x < 1 || x > MAX_ARRAY_TASKS) return `array size must be a whole number from 1 to ${MAX_ARRAY_TASKS}`;
      return { indices: Array.from({ length: x }, (_, i) => i), maxConcurrent: 0 };
    }
    if (typeof x === 'string') {
      // sbatch style: "0-99%10"
      const [expr, max] = x.split('%');
      const maxConcurrent = max === undefined ? 0 : Number(max);
      if (!Number.isInteger(maxConcurrent) || maxConcurrent < 0) return `array "%${max}": max concurrent must be a whole number`;
      return { indices: parseIndices(expr!), maxConcurrent };
    }
    if (Array.isArray(x)) {
      if (!x.every((i) => Number.isInteger(i) && i >= 0 && i <= MAX_ARRAY_INDEX)) return 'array indices must be whole numbers >= 0';
      if (x.length === 0 || x.length > MAX_ARRAY_TASKS) return `array must have 1 to ${MAX_ARRAY_TASKS} tasks`;
      return { indices: [...new Set(x as number[])].sort((a, b) => a - b), maxConcurrent: 0 };
    }
    if (typeof x === 'object' && x !== null) {
      const o = x as { size?: unknown; indices?: unknown; maxConcurrent?: unknown };
      if ((o.size === undefined) === (o.indices === undefined)) return 'array needs exactly one of size or indices';
      const base = arrayFrom(o.size ?? o.indices);
      if (typeof base === 'string') return base;
      if (o.maxConcurrent !== undefined) {
        if (typeof o.maxConcurrent !== 'number' || !Number.isInteger(o.maxConcurrent) || o.maxConcurrent < 0)
          return 'array.maxConcurrent must be a whole number >= 0';
        base.maxConcurrent = o.maxConcurrent;
      }
      return base;
    }
  } catch (err) {
    return (err as Error).message;
  }
  return 'array must be a size, an index expression like "0-99%10", a list of indices, or { size | indices, maxConcurrent }';
}

const ArraySpec = v.pipe(
  v.unknown(),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const r = arrayFrom(dataset.value);
    if (typeof r === 'string') {
      addIssue({ message: r });
      return NEVER;
    }
    return r;
  }),
);

const JobRef = Word('job id', 128);
const JobRefs = v.pipe(
  v.union([JobRef, v.array(JobRef)], 'expected a job id or a list of job ids'),
  v.transform((x) => (Array.isArray(x) ? x : [x])),
);

const EnvName = v.pipe(v.string(), v.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names must match [A-Za-z_][A-Za-z0-9_]*'));
const ModuleName = v.pipe(
  v.string('module must be a string'),
  v.regex(/^[A-Za-z0-9._+@:/-]+$/, 'module names may contain letters, digits and ._+@:/- only'),
  v.maxLength(256),
);

/** A job as callers describe it: the object, before the command/script check. */
export const JobSpecObject = v.object({
  /** argv, run exactly (no shell): ["python", "train.py", "--lr", "0.1"]. */
  command: v.optional(v.pipe(v.array(Str('command word', 1 << 16)), v.minLength(1, 'command must have at least one word'))),
  /** Script text. Its #! line picks the interpreter; default bash (sh if bash is missing). */
  script: v.optional(v.pipe(v.string('script must be a string'), v.minLength(1, 'script must not be empty'), v.maxLength(MAX_SCRIPT_BYTES), NoNul('script'))),
  /** Directory the command runs in. Default: the agent user's home. */
  workdir: v.optional(Str('workdir')),
  env: v.optional(v.record(EnvName, v.pipe(v.string('env values must be strings'), NoNul('env value')))),
  /** Environment modules to `module load`, in order. */
  modules: v.optional(v.array(ModuleName)),
  /**
   * A dependency environment built by envs.ensure: its hash (or its absolute
   * path). The job sources its `activate` (modules, variables, PATH,
   * NODE_PATH, PYTHONPATH) after `modules` and before changing directory.
   */
  environment: v.optional(
    v.pipe(
      Str('environment'),
      v.check((s) => /^[0-9a-f]{64}$/.test(s) || s.startsWith('/'), 'environment must be an env hash (64 hex digits) or an absolute path'),
    ),
  ),
  resources: v.optional(Resources),
  array: v.optional(ArraySpec),
  dependencies: v.optional(v.object({ afterok: v.optional(JobRefs), afterany: v.optional(JobRefs) })),
  name: v.optional(Str('name', 200)),
  /** Path template of stdout: `%j`/`{job}` job id, `%a`/`{task}` array index. Default <root>/jobs/<id>/stdout[.<task>]. */
  stdout: v.optional(Str('stdout')),
  stderr: v.optional(Str('stderr')),
  /** Escape hatch: extra arguments for the submit command (sbatch/qsub/bsub), one argv word each. */
  directives: v.optional(v.array(Word('directive', 4096))),
});

/** A job as callers describe it. Exactly one of `command` or `script`. */
export const JobSpecSchema = v.pipe(
  JobSpecObject,
  v.check((s) => (s.command === undefined) !== (s.script === undefined), 'give exactly one of command (argv) or script (text)'),
);

export type JobSpecInput = v.InferInput<typeof JobSpecSchema>;
export type JobSpecParsed = v.InferOutput<typeof JobSpecSchema>;

export const Scheduler = v.picklist(SCHEDULERS as [SchedulerName, ...SchedulerName[]], `scheduler must be one of ${SCHEDULERS.join(', ')}`);
const JobId = Word('id', 128);

/**
 * Submit a job. The idempotency key is the client's: a retry with the same key
 * (after a dropped connection, on any agent sharing the root) returns the
 * original job and submits nothing.
 */
export const jobsSubmit = unary(
  'jobs.submit',
  v.object({
    spec: JobSpecSchema,
    idempotencyKey: v.pipe(v.string(), v.minLength(8, 'idempotencyKey must be at least 8 characters'), v.maxLength(200), NoNul('idempotencyKey')),
    /** Default: the scheduler detected on the agent's host. */
    scheduler: v.optional(Scheduler),
  }),
  returns<SubmitResult>(),
);

/** One job by clustrix id (or by scheduler id, e.g. "slurm:1234"). Includes spec and per-task states. */
export const jobsGet = unary(
  'jobs.get',
  v.object({ id: JobId, /** Refresh from the scheduler first. */ refresh: v.optional(v.boolean(), false) }),
  returns<JobInfo>(),
);

/** Jobs, newest first. */
export const jobsList = unary(
  'jobs.list',
  v.object({
    /** 'active' = not terminal, 'terminal', or 'all' (default). */
    which: v.optional(v.picklist(['active', 'terminal', 'all']), 'all'),
    states: v.optional(v.array(v.picklist(JOB_STATES as [string, ...string[]]))),
    limit: v.optional(v.pipe(Count, v.minValue(1)), 100),
    /** Only jobs submitted at/after this time (ms since epoch). */
    since: v.optional(Count),
  }),
  returns<JobInfo[]>(),
);

/** Cancel a job (all tasks), or some array tasks. Idempotent: cancelling a finished job answers its state. */
export const jobsCancel = unary(
  'jobs.cancel',
  v.object({ id: JobId, tasks: v.optional(v.array(v.pipe(Count, v.maxValue(MAX_ARRAY_INDEX)))) }),
  returns<JobInfo>(),
);

/**
 * Stream state changes. The first chunk is a snapshot of the watched jobs;
 * then one chunk per poll that changed something. Without `ids`, every job.
 * Ends when all watched ids are terminal (with `untilDone`), or on cancel.
 */
export const jobsWatch = stream(
  'jobs.watch',
  v.object({ ids: v.optional(v.array(JobId)), untilDone: v.optional(v.boolean(), false), tasks: v.optional(v.boolean(), false) }),
  returns<JobEvent[]>(),
  returns<{ events: number }>(),
);

/** Read (and with follow, tail) a job's stdout or stderr. Chunks are bytes. */
export const jobsLogs = stream(
  'jobs.logs',
  v.object({
    id: JobId,
    stream: v.optional(v.picklist(['stdout', 'stderr']), 'stdout'),
    /** Array task index (default: the first task). */
    task: v.optional(Count),
    offset: v.optional(Count, 0),
    /** Start this many bytes before the end instead (tail). */
    tail: v.optional(Count),
    /** Keep sending new bytes until the job ends. */
    follow: v.optional(v.boolean(), false),
  }),
  returns<Uint8Array>(),
  returns<LogsSummary>(),
);

/** Longest event line kept whole, bytes; a longer one arrives as `raw` (cut) with `data: null`. */
export const MAX_PROGRESS_LINE_BYTES = 64 * 1024;

/**
 * Progress events of a job: JSON lines its tasks append to `$CLUSTRIX_EVENTS`.
 * Chunks are batches in file order per task; with `follow` (default) the
 * stream goes on until the job is terminal and its files are drained.
 */
export const jobsProgress = stream(
  'jobs.progress',
  v.object({
    id: JobId,
    /** Only this array task. */
    task: v.optional(Count),
    follow: v.optional(v.boolean(), true),
    /** Skip events already seen: per task key ("job" or the index) → next seq. */
    after: v.optional(v.record(v.pipe(v.string(), v.regex(/^(job|\d+)$/, 'after keys are "job" or task indices')), Count)),
  }),
  returns<ProgressEvent[]>(),
  returns<{ events: number }>(),
);

/** The poller's counters: scheduler calls by command, interval, watched jobs. */
export const jobsStats = unary('jobs.stats', v.optional(v.object({}), {}), returns<JobsStats>());

/** Which scheduler this host has. */
export const jobsDetect = unary('jobs.detect', v.optional(v.object({}), {}), returns<DetectResult>());
