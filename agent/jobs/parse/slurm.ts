/**
 * Slurm output parsers (pure; tested on recorded 22.05 output):
 * `sbatch --parsable`, the batched `squeue -r -t all -O …` status line format,
 * and `scontrol show job [-o]` records.
 */
import type { JobState } from '../../../protocol/index.js';
import type { FinishedInfo, NativeStatus } from '../adapters/types.js';
import { decodeWaitStatus, parseLocalIso, parseSlurmDuration } from './common.js';

/** The fields the poller asks squeue for, in order; `|` after each (none of them can contain one). */
export const SQUEUE_FIELDS = ['JobID', 'ArrayJobID', 'ArrayTaskID', 'State', 'Reason', 'exit_code', 'StartTime', 'EndTime'];
export const SQUEUE_FORMAT = SQUEUE_FIELDS.map((f) => `${f}:|`).join(',');

/** `5` or `5;cluster` → "5". */
export function parseSbatch(stdout: string): string | null {
  const line = stdout
    .split('\n')
    .map((l) => l.trim())
    .find((l) => /^\d+(;\S+)?$/.test(l));
  return line ? line.split(';')[0]! : null;
}

const LIVE: Record<string, string | undefined> = {
  PENDING: 'PENDING',
  CONFIGURING: 'PENDING',
  REQUEUED: 'PENDING',
  REQUEUE_HOLD: 'PENDING',
  REQUEUE_FED: 'PENDING',
  RESV_DEL_HOLD: 'PENDING',
  RUNNING: 'RUNNING',
  COMPLETING: 'RUNNING',
  SUSPENDED: 'RUNNING',
  STOPPED: 'RUNNING',
  SIGNALING: 'RUNNING',
  STAGE_OUT: 'RUNNING',
  RESIZING: 'RUNNING',
};

const TERMINAL: Record<string, JobState> = {
  COMPLETED: 'COMPLETED',
  FAILED: 'FAILED',
  CANCELLED: 'CANCELLED',
  TIMEOUT: 'TIMEOUT',
  DEADLINE: 'TIMEOUT',
  OUT_OF_MEMORY: 'OUT_OF_MEMORY',
  NODE_FAIL: 'NODE_FAIL',
  BOOT_FAIL: 'NODE_FAIL',
  PREEMPTED: 'CANCELLED',
  REVOKED: 'CANCELLED',
  SPECIAL_EXIT: 'FAILED',
};

/** Slurm's JobState (possibly "CANCELLED by 1001") → ours. */
export function slurmState(raw: string): JobState {
  const word = raw.split(/[\s+]/)[0] ?? raw;
  return (LIVE[word] as JobState | undefined) ?? TERMINAL[word] ?? 'PENDING';
}

/** Lines of `squeue -h -r -t all -O <SQUEUE_FORMAT>` → one entry per job or array task. */
export function parseSqueue(stdout: string): NativeStatus[] {
  const out: NativeStatus[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    const f = line.split('|');
    if (f.length < SQUEUE_FIELDS.length) continue;
    const [, arrayJobId, taskId, stateRaw, reason, exitRaw, start, end] = f.map((x) => x.trim());
    if (!arrayJobId || !/^\d+$/.test(arrayJobId)) continue;
    const state = slurmState(stateRaw!);
    const e: NativeStatus = { jobId: arrayJobId, state, raw: stateRaw! };
    if (taskId && /^\d+$/.test(taskId)) e.index = Number(taskId);
    else if (taskId && taskId !== 'N/A') continue; // a not-expanded range: squeue was not run with -r
    if (reason && reason !== 'None') e.reason = reason;
    const startedAt = parseLocalIso(start);
    if (startedAt !== undefined && state !== 'PENDING') e.startedAt = startedAt;
    if (state !== 'PENDING' && state !== 'RUNNING') {
      const endedAt = parseLocalIso(end);
      if (endedAt !== undefined) e.endedAt = endedAt;
      const raw = Number(exitRaw);
      if (Number.isInteger(raw)) Object.assign(e, decodeWaitStatus(raw));
    }
    out.push(e);
  }
  return out;
}

/**
 * `scontrol show job` (multi-line, blank-line separated) or `-o` (one per
 * line) → one key/value map per record. Values run to the next " Key=".
 */
export function parseScontrolRecords(text: string): Record<string, string>[] {
  const records: Record<string, string>[] = [];
  // A record starts at each line beginning with JobId=; indented lines continue it.
  for (const block of text.split(/\n(?=JobId=)/)) {
    const flat = block.replace(/\n\s*/g, ' ').trim();
    if (!flat.startsWith('JobId=')) continue;
    const rec: Record<string, string> = {};
    const re = /(?:^|\s)([A-Za-z][\w/:]*)=/g;
    const keys: { key: string; at: number; valueAt: number }[] = [];
    for (let m = re.exec(flat); m; m = re.exec(flat)) keys.push({ key: m[1]!, at: m.index, valueAt: m.index + m[0].length });
    keys.forEach((k, i) => {
      const end = i + 1 < keys.length ? keys[i + 1]!.at : flat.length;
      if (!(k.key in rec)) rec[k.key] = flat.slice(k.valueAt, end).trim();
    });
    records.push(rec);
  }
  return records;
}

/** One scontrol record → what a finished job looked like. */
export function scontrolFinished(rec: Record<string, string>): FinishedInfo {
  const info: FinishedInfo = {};
  if (rec.JobState) info.state = slurmState(rec.JobState);
  if (rec.Reason && rec.Reason !== 'None') info.reason = rec.Reason;
  const ec = /^(\d+):(\d+)$/.exec(rec.ExitCode ?? '');
  if (ec) {
    const sig = Number(ec[2]);
    info.exitCode = sig ? null : Number(ec[1]);
    info.signal = sig ? decodeWaitStatus(sig).signal : null;
  }
  const wall = parseSlurmDuration(rec.RunTime);
  if (wall !== undefined) info.wallSec = wall;
  return info;
}
