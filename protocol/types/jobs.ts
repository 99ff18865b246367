/**
 * Types of the jobs methods: the normalized job spec the agent records, job
 * states, what `jobs.get`/`jobs.list` answer and the events `jobs.watch` streams.
 */

export type SchedulerName = 'slurm' | 'sge' | 'pbs' | 'lsf' | 'local';
export const SCHEDULERS: readonly SchedulerName[] = ['slurm', 'sge', 'pbs', 'lsf', 'local'];

/**
 * One vocabulary for every scheduler. PENDING and RUNNING are the live
 * states; the others are terminal. SUBMITTING is the short window between the
 * record being created and the scheduler answering the submit.
 */
export type JobState = 'SUBMITTING' | 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'TIMEOUT' | 'OUT_OF_MEMORY' | 'NODE_FAIL';
export const JOB_STATES: readonly JobState[] = [
  'SUBMITTING',
  'PENDING',
  'RUNNING',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TIMEOUT',
  'OUT_OF_MEMORY',
  'NODE_FAIL',
];
export const TERMINAL_STATES: readonly JobState[] = ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL'];

export function isTerminal(s: JobState): boolean {
  return TERMINAL_STATES.includes(s);
}

/** Resources after normalization: memory in MiB, time in seconds. */
export interface JobResources {
  /** CPUs per task (Slurm --cpus-per-task, SGE smp slots, PBS ncpus, LSF -n). */
  cpus?: number;
  /** Memory per node (per job for single-node jobs), MiB. */
  memoryMb?: number;
  /** Wall-clock limit, seconds. */
  timeSec?: number;
  /** GPU count, optionally with a type: "a100:2" or 2. */
  gpus?: number | string;
  nodes?: number;
  tasks?: number;
  /** Slurm partition, SGE/PBS/LSF queue. */
  partition?: string;
  account?: string;
  qos?: string;
  /** Node features (Slurm --constraint, LSF select[]). */
  constraint?: string;
  /** Whole nodes, not shared with other jobs. */
  exclusive?: boolean;
}

/** A job array after normalization: the sorted, unique task indices. */
export interface JobArray {
  /** Indices in compact range form, e.g. "0-999" or "1,3,5-9:2". */
  indices: string;
  count: number;
  /** Tasks running at once; 0 = no limit. */
  maxConcurrent: number;
}

export interface JobDependencies {
  /** Start only after these jobs (clustrix ids) completed successfully. */
  afterok: string[];
  /** Start after these jobs ended, whatever their outcome. */
  afterany: string[];
}

/** The spec as the agent recorded it (see protocol/methods/jobs.ts for what callers send). */
export interface NormalizedJobSpec {
  /** argv to run (exactly these words, no shell), or absent when `script` is given. */
  command?: string[];
  /** Script text; run with its #! interpreter, else /bin/bash (or /bin/sh). */
  script?: string;
  workdir: string;
  env: Record<string, string>;
  modules: string[];
  /** Directory of a dependency environment whose `activate` the job sources (envs.ensure). */
  environment?: string;
  resources: JobResources;
  array?: JobArray;
  dependencies: JobDependencies;
  name: string;
  /** Output path templates: `%j`/`{job}` = job id, `%a`/`{task}` = array index. */
  stdout: string;
  stderr: string;
  /** Extra raw arguments for the submit command, verbatim (one argv word each). */
  directives: string[];
}

/** State of one array task (or of the only task of a plain job). */
export interface TaskInfo {
  /** Array index; absent for a plain job. */
  index?: number;
  state: JobState;
  exitCode?: number | null;
  /** Signal that ended it, e.g. "SIGKILL". */
  signal?: string | null;
  reason?: string;
  startedAt?: number;
  endedAt?: number;
}

/** Task counts of an array job by state. */
export type TaskCounts = Partial<Record<JobState, number>>;

/** What jobs.get / jobs.submit answer. Times are ms since the epoch. */
export interface JobInfo {
  /** clustrix id (sortable by submission time). */
  id: string;
  name: string;
  scheduler: SchedulerName;
  /** The scheduler's ids, one per submission (arrays over the site limit are split). */
  nativeIds: string[];
  state: JobState;
  /** Why: the scheduler's reason, or how the terminal state was established. */
  reason?: string;
  /** Exit code of the command (the first failing task of an array). */
  exitCode?: number | null;
  signal?: string | null;
  submittedAt: number;
  startedAt?: number;
  endedAt?: number;
  /** Host of the agent that submitted it. */
  host: string;
  workdir: string;
  /** Output paths (templates for arrays). */
  stdout: string;
  stderr: string;
  array?: JobArray;
  /** Arrays: how many tasks are in each state. */
  tasks?: TaskCounts;
  /** Last lines of stderr (and of the scheduler's own messages) once the job failed. */
  stderrTail?: string;
  cancelRequested?: boolean;
  /** Present on jobs.get: the recorded spec. */
  spec?: NormalizedJobSpec;
  /** Present on jobs.get for arrays: per-task states (only tasks that left PENDING). */
  taskStates?: TaskInfo[];
}

/** What jobs.submit answers. */
export interface SubmitResult {
  job: JobInfo;
  /** True when the idempotency key was seen before: this is the original job, nothing was submitted. */
  existing: boolean;
}

/** One change pushed by jobs.watch. */
export interface JobEvent {
  id: string;
  state: JobState;
  /** The previous state (absent in the snapshot sent when watching starts). */
  previous?: JobState;
  /** Set for a change of one array task. */
  task?: number;
  at: number;
  job: JobInfo;
}

export interface JobsStats {
  /** Scheduler commands run since the agent started, by command (e.g. "squeue"). */
  calls: Record<string, number>;
  /** Status (poll) calls only, total. */
  statusCalls: number;
  /** Jobs currently watched by the poller (not terminal). */
  watched: number;
  /** Current poll interval, ms. */
  intervalMs: number;
  /** Polls done. */
  polls: number;
  /** Consecutive failed status calls (scheduler trouble). */
  failures: number;
  /** Scheduler the agent detected on this host. */
  detected: SchedulerName;
}

export interface DetectResult {
  /** The default scheduler for submissions on this host. */
  scheduler: SchedulerName;
  /** Every scheduler whose commands were found. `local` is always available. */
  available: SchedulerName[];
  /** How the choice was made: env override, commands found… */
  how: string;
}

export interface LogsSummary {
  bytes: number;
  /** Offset after the last byte sent (pass it as `offset` to resume). */
  offset: number;
  path: string;
}

/**
 * One progress event a running job emitted: a JSON line appended to
 * `$CLUSTRIX_EVENTS` (from any language), or `progress()` of `clustrix/job`.
 */
export interface ProgressEvent {
  /** Array task index; absent for a plain job. */
  task?: number;
  /** Line number in that task's event file, from 0 (with `task`, a resume cursor). */
  seq: number;
  /** When it was written (ms since the epoch), if the line said so. */
  at?: number;
  /** For functions run by `map`: the input item the event is about. */
  item?: number;
  /** The JSON value of the line (or its `data` field, for lines written by `clustrix/job`). */
  data: unknown;
  /** Set when the line was not valid JSON (or too long): the raw text, and `data` is null. */
  raw?: string;
}
