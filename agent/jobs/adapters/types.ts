/**
 * One interface for every scheduler. Adapters translate a normalized spec
 * into argv (never a shell string), submit, report the status of MANY jobs in
 * ONE call, cancel, and describe a finished job when the wrapper's records do
 * not tell the whole story.
 */
import type { JobState, NormalizedJobSpec, SchedulerName } from '../../../protocol/index.js';

/** One submission: a plain job, or one chunk of an array. */
export interface SubmitRequest {
  /** clustrix id. */
  id: string;
  jobDir: string;
  /** The wrapper script for this chunk (absolute path under jobDir). */
  wrapperPath: string;
  spec: NormalizedJobSpec;
  /** Job name as the scheduler will see it (sanitized). */
  schedName: string;
  /** Native array indices of this chunk; absent for a plain job. */
  indices?: number[];
  /** Max tasks at once (0 = no limit). */
  maxConcurrent: number;
  /** Native ids this submission waits for. */
  afterok: string[];
  afterany: string[];
  /** The scheduler's own log of this submission (its stdout+stderr), may contain scheduler placeholders. */
  schedLog: string;
}

/** A command line: argv only. `stdin` is fed to the process (LSF reads the script this way). */
export interface Argv {
  cmd: string;
  args: string[];
  stdin?: string;
}

/** What the scheduler says about one job or one array task. */
export interface NativeStatus {
  /** Native job id (the array's id for array tasks). */
  jobId: string;
  /** Native array index; absent for a plain job. */
  index?: number;
  state: JobState;
  /** The scheduler's own state code (R, qw, PENDING, RUN…). */
  raw: string;
  reason?: string;
  exitCode?: number | null;
  signal?: string | null;
  startedAt?: number;
  endedAt?: number;
}

export interface StatusReport {
  entries: NativeStatus[];
  /**
   * True when a job missing from `entries` is really gone (finished and
   * forgotten), e.g. `squeue -u me -t all` lists every job it still knows.
   */
  authoritative: boolean;
}

/** Details of a finished job from accounting (qacct, scontrol, qstat -x, bjobs -a). */
export interface FinishedInfo {
  state?: JobState;
  exitCode?: number | null;
  signal?: string | null;
  reason?: string;
  /** Seconds it ran, when known. */
  wallSec?: number;
}

export interface ArrayLimits {
  /** Largest native index the scheduler accepts (Slurm: MaxArraySize − 1). */
  maxIndex: number;
  /** Most tasks in one submission. */
  maxCount: number;
}

export interface Adapter {
  readonly name: SchedulerName;
  /** First array index the scheduler accepts (SGE and LSF start at 1). */
  readonly arrayBase: 0 | 1;
  /** The scheduler takes only `lo-hi:step` ranges, not index lists (SGE -t, PBS -J). */
  readonly rangesOnly?: boolean;
  /** Path (with the scheduler's own placeholders) of its log for one submission. */
  schedLogPattern(jobDir: string, isArray: boolean, chunk: number): string;
  /** The scheduler log of one task once its native ids are known. */
  schedLogFile(jobDir: string, chunk: number, nativeId: string, index?: number): string;
  /** Site limits on arrays, for splitting. */
  arrayLimits(): Promise<ArrayLimits>;
  /** Pure translation, throws ProtocolError UNSUPPORTED for what the scheduler cannot express. */
  submitArgv(req: SubmitRequest): Argv;
  /** Submit; resolves with the native id. */
  submit(req: SubmitRequest): Promise<string>;
  /** Status of all these jobs in one scheduler call. */
  status(nativeIds: string[]): Promise<StatusReport>;
  /** Cancel whole jobs, or some tasks of one array job. */
  cancel(nativeIds: string[], tasks?: { jobId: string; indices: number[] }): Promise<void>;
  /** Accounting record of a finished job (or task); null when the scheduler has none. */
  describe(nativeId: string, index?: number): Promise<FinishedInfo | null>;
  /** The native id of the job submitted for clustrix job `id`, if the scheduler can tell (recovery of an interrupted submit). */
  findSubmitted?(id: string): Promise<string | null>;
}
