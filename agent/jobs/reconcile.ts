/**
 * Terminal truth, as pure functions. For one task the inputs are what the
 * scheduler says (or that it no longer lists it), what the wrapper recorded in
 * the job dir (start, exit status, signal), whether we asked to cancel, the
 * scheduler's own log lines, and accounting; the output is one TaskInfo.
 */
import { isTerminal, type JobInfo, type JobState, type TaskCounts, type TaskInfo } from '../../protocol/index.js';
import type { FinishedInfo, NativeStatus } from './adapters/types.js';
import { decodeShellStatus } from './parse/common.js';

export interface ExitRecord {
  exitCode: number;
  signal?: string;
  endedAt?: number;
  error?: string;
}

export interface StartRecord {
  startedAt: number;
  host?: string;
}

export interface TaskFacts {
  prev: TaskInfo;
  native?: NativeStatus;
  /** The status listing is complete: absent means the scheduler is done with the task. */
  authoritative: boolean;
  start?: StartRecord | null;
  exit?: ExitRecord | null;
  cancelRequested: boolean;
  timeSec?: number;
  /** Tail of the scheduler's own log for this task (stderr of slurmstepd…), when read. */
  schedLog?: string;
  /** Accounting, when asked for. */
  finished?: FinishedInfo | null;
  /** The task has been missing from the listing for this long with no exit record (NFS may hide it). */
  goneForMs?: number;
  now: number;
}

/** What to fetch before deciding: the answer may need accounting or the scheduler log. */
export type Need = 'describe' | 'schedlog' | 'wait' | null;

/** Lines of a scheduler log that explain a kill. */
export function logVerdict(log: string | undefined): { state: JobState; reason: string } | null {
  if (!log) return null;
  const line = (re: RegExp) =>
    log
      .split('\n')
      .find((l) => re.test(l))
      ?.trim();
  let l = line(/exceeded (job )?memory limit|oom[-_ ]kill|out of memory|memory limit exceeded/i);
  if (l) return { state: 'OUT_OF_MEMORY', reason: l };
  l = line(/DUE TO TIME LIMIT/i);
  if (l) return { state: 'TIMEOUT', reason: l };
  l = line(/DUE TO NODE FAILURE|NODE_FAIL/i);
  if (l) return { state: 'NODE_FAIL', reason: l };
  l = line(/DUE TO PREEMPTION/i);
  if (l) return { state: 'CANCELLED', reason: l };
  return null;
}

const SPECIAL: JobState[] = ['TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL'];
const KILL_SIGNALS = new Set(['SIGTERM', 'SIGKILL', 'SIGINT', 'SIGHUP']);

function done(f: TaskFacts, state: JobState, extra: Partial<TaskInfo> = {}): TaskInfo {
  const t: TaskInfo = { state };
  if (f.prev.index !== undefined) t.index = f.prev.index;
  // Slurm gives a job cancelled while pending a StartTime (= its end): only a run we saw counts.
  const nativeStart = f.native && (state === 'RUNNING' || (isTerminal(state) && state !== 'CANCELLED')) ? f.native.startedAt : undefined;
  const startedAt = f.start?.startedAt ?? f.prev.startedAt ?? nativeStart;
  if (startedAt !== undefined) t.startedAt = startedAt;
  if (isTerminal(state)) t.endedAt = f.exit?.endedAt ?? f.native?.endedAt ?? f.prev.endedAt ?? f.now;
  return Object.assign(t, extra);
}

function exitFields(f: TaskFacts): Partial<TaskInfo> {
  if (f.exit) {
    const d = decodeShellStatus(f.exit.exitCode);
    return { exitCode: d.exitCode, signal: f.exit.signal || d.signal };
  }
  if (f.native && (f.native.exitCode !== undefined || f.native.signal !== undefined))
    return { exitCode: f.native.exitCode ?? null, signal: f.native.signal ?? null };
  if (f.finished) return { exitCode: f.finished.exitCode ?? null, signal: f.finished.signal ?? null };
  return { exitCode: null, signal: null };
}

/**
 * Decide one task. Returns the new TaskInfo, or a Need when the facts are not
 * enough yet (the caller fetches it and calls again).
 */
export function decideTask(f: TaskFacts): TaskInfo | Need {
  const n = f.native;
  const exit = f.exit;
  const signalled = !!exit && (!!exit.signal || exit.exitCode > 128);

  // 1. The command ended on its own: its exit status is the truth.
  if (exit && !signalled) {
    if (n && SPECIAL.includes(n.state)) return done(f, n.state, { ...exitFields(f), ...(n.reason ? { reason: n.reason } : {}) });
    const extra = exitFields(f);
    if (exit.error) extra.reason = exit.error;
    return done(f, exit.exitCode === 0 ? 'COMPLETED' : 'FAILED', extra);
  }

  // 2. The scheduler still runs or queues it.
  if (n && (n.state === 'PENDING' || n.state === 'RUNNING')) {
    const state: JobState = n.state === 'PENDING' && f.start ? 'RUNNING' : n.state;
    const t = done(f, state);
    if (n.reason) t.reason = n.reason;
    return t;
  }

  // 3. The scheduler says how it ended.
  if (n) {
    let state = n.state;
    let reason = n.reason;
    const fields = exitFields(f);
    if (state === 'FAILED' || state === 'CANCELLED') {
      if (f.schedLog === undefined) return 'schedlog';
      const v = logVerdict(f.schedLog);
      if (v && (state === 'FAILED' || v.state === 'TIMEOUT')) {
        state = v.state;
        reason = v.reason;
      }
    }
    if (f.cancelRequested && (state === 'FAILED' || state === 'CANCELLED') && (state === 'CANCELLED' || KILL_SIGNALS.has(fields.signal ?? ''))) {
      state = 'CANCELLED';
      reason = reason && reason !== 'None' ? reason : 'cancelled';
    }
    return done(f, state, { ...fields, ...(reason ? { reason } : {}) });
  }

  // 4. Not listed, but the listing may be partial: only our own records can tell.
  if (!f.authoritative) {
    if (exit) return done(f, f.cancelRequested ? 'CANCELLED' : 'FAILED', exitFields(f));
    return f.prev;
  }

  // 5. The scheduler is done with it and has forgotten it.
  if (f.cancelRequested) return done(f, 'CANCELLED', { ...exitFields(f), reason: 'cancelled' });
  if (exit || f.start) {
    // Killed: by a signal it recorded, or so hard it recorded nothing.
    if (f.finished === undefined && !exit) return 'describe';
    if (f.finished?.state && f.finished.state !== 'COMPLETED') {
      let state: JobState = f.finished.state;
      let reason = f.finished.reason;
      if (state === 'FAILED') {
        if (f.schedLog === undefined) return 'schedlog';
        const v = logVerdict(f.schedLog);
        if (v) ({ state, reason } = v);
      }
      return done(f, state, { ...exitFields(f), ...(reason ? { reason } : {}) });
    }
    if (f.schedLog === undefined) return 'schedlog';
    const v = logVerdict(f.schedLog);
    if (v) return done(f, v.state, { ...exitFields(f), reason: v.reason });
    if (!exit && (f.goneForMs ?? 0) < 10_000) return 'wait'; // the exit record may not be visible yet (NFS)
    const started = f.start?.startedAt;
    if (f.timeSec !== undefined && started !== undefined && (exit?.endedAt ?? f.now) - started >= f.timeSec * 1000 - 1000)
      return done(f, 'TIMEOUT', { ...exitFields(f), reason: `ran into its time limit of ${f.timeSec} s` });
    return done(f, 'FAILED', {
      ...exitFields(f),
      reason: exit ? `killed by ${exit.signal || 'a signal'}` : 'ended without recording an exit status (killed?)',
    });
  }
  // Never started and gone.
  if (f.finished === undefined) return 'describe';
  if (f.finished?.state) return done(f, f.finished.state, { ...exitFields(f), ...(f.finished.reason ? { reason: f.finished.reason } : {}) });
  if ((f.goneForMs ?? 0) < 10_000) return 'wait';
  return done(f, 'FAILED', { exitCode: null, signal: null, reason: 'left the queue without running (removed by an administrator or the scheduler?)' });
}

/**
 * The cheap path, between scheduler calls: only the wrapper's records, read
 * from the job dir. A clean exit is final; a start means RUNNING; anything
 * else (signals, kills, cancels) waits for the scheduler's word.
 */
export function decideFromFiles(f: TaskFacts): TaskInfo | null {
  const exit = f.exit;
  if (exit && !exit.signal && exit.exitCode <= 128) {
    const extra = exitFields(f);
    if (exit.error) extra.reason = exit.error;
    return done(f, exit.exitCode === 0 ? 'COMPLETED' : 'FAILED', extra);
  }
  if (f.start && f.prev.state === 'PENDING') return done(f, 'RUNNING');
  return null;
}

/** Order in which an array's failure is reported: the most specific first. */
const WORST: JobState[] = ['OUT_OF_MEMORY', 'TIMEOUT', 'NODE_FAIL', 'FAILED', 'CANCELLED'];

/** A job's state from its tasks' (tasks not in `tasks` are pending). */
export function aggregate(
  total: number,
  tasks: TaskInfo[],
  cancelRequested: boolean,
): Pick<JobInfo, 'state' | 'reason' | 'exitCode' | 'signal' | 'startedAt' | 'endedAt'> & { counts: TaskCounts } {
  const counts: TaskCounts = {};
  for (const t of tasks) counts[t.state] = (counts[t.state] ?? 0) + 1;
  const pending = total - tasks.filter((t) => t.state !== 'PENDING').length;
  counts.PENDING = pending;
  if (!counts.PENDING) delete counts.PENDING;
  const starts = tasks.map((t) => t.startedAt).filter((x): x is number => x !== undefined);
  const out: ReturnType<typeof aggregate> = { state: 'PENDING', counts };
  if (starts.length) out.startedAt = Math.min(...starts);
  const terminal = tasks.filter((t) => isTerminal(t.state));
  if (terminal.length === total) {
    out.endedAt = Math.max(...terminal.map((t) => t.endedAt ?? 0));
    const bad = terminal.filter((t) => t.state !== 'COMPLETED');
    if (bad.length === 0) {
      out.state = 'COMPLETED';
      out.exitCode = 0;
      out.signal = null;
      return out;
    }
    const order = cancelRequested ? ['CANCELLED', ...WORST] : WORST;
    const state = order.find((s) => bad.some((t) => t.state === s)) as JobState;
    const first = bad.find((t) => t.state === state)!;
    out.state = state;
    out.exitCode = first.exitCode ?? null;
    out.signal = first.signal ?? null;
    const why = first.reason ?? (state === 'FAILED' && first.exitCode != null ? `exit code ${first.exitCode}` : undefined);
    if (why) out.reason = total > 1 ? `task ${first.index}: ${why} (${bad.length} of ${total} tasks not completed)` : why;
    return out;
  }
  if (tasks.some((t) => t.state === 'RUNNING') || terminal.length > 0) out.state = 'RUNNING';
  const withReason = tasks.find((t) => !isTerminal(t.state) && t.reason);
  if (withReason?.reason) out.reason = withReason.reason;
  return out;
}
