/**
 * IBM LSF output parsers (pure; tested on fixtures in the documented shapes):
 * `bsub` and `bjobs -o "…" -json`, where every value is a string (often
 * empty), times have no year, and a missing job is a record with ERROR.
 */
import type { JobState } from '../../../protocol/index.js';
import type { NativeStatus } from '../adapters/types.js';
import { decodeShellStatus, parseLsfTime } from './common.js';

export const BJOBS_FIELDS = 'jobid jobindex stat exit_code exit_reason exec_host submit_time start_time finish_time';

/** `Job <327> is submitted to default queue <normal>.` → "327" (sites may print more lines). */
export function parseBsub(stdout: string): string | null {
  const m = /Job <(\d+)> is submitted/.exec(stdout) ?? /Job <(\d+)>/.exec(stdout);
  return m ? m[1]! : null;
}

/** STAT (+ EXIT_REASON) → ours. */
export function lsfState(stat: string, exitReason = ''): { state: JobState; reason?: string } {
  switch (stat) {
    case 'PEND':
    case 'WAIT':
      return { state: 'PENDING' };
    case 'PSUSP':
      return { state: 'PENDING', reason: 'suspended while pending' };
    case 'RUN':
    case 'PROV':
      return { state: 'RUNNING' };
    case 'USUSP':
    case 'SSUSP':
      return { state: 'RUNNING', reason: 'suspended' };
    case 'UNKWN':
      return { state: 'RUNNING', reason: 'execution host unreachable (UNKWN)' };
    case 'DONE':
      return { state: 'COMPLETED' };
    case 'ZOMBI':
      return { state: 'NODE_FAIL', reason: 'killed while its host was unreachable (ZOMBI)' };
    case 'EXIT':
      if (/RUNLIMIT|RUNTIME|DEADLINE/i.test(exitReason)) return { state: 'TIMEOUT', reason: exitReason };
      if (/MEMLIMIT|SWAP|OOM/i.test(exitReason)) return { state: 'OUT_OF_MEMORY', reason: exitReason };
      if (/TERM_OWNER|TERM_ADMIN|TERM_FORCE|TERM_REQUEUE|killed by owner/i.test(exitReason)) return { state: 'CANCELLED', reason: exitReason };
      if (/TERM_HOST|TERM_LOAD|TERM_ZOMBIE|TERM_ORPHAN/i.test(exitReason)) return { state: 'NODE_FAIL', reason: exitReason };
      return exitReason ? { state: 'FAILED', reason: exitReason } : { state: 'FAILED' };
    default:
      return { state: 'PENDING', reason: `unknown LSF state ${stat}` };
  }
}

/** `bjobs -o "<BJOBS_FIELDS>" -json -a <ids>` → entries; ERROR records (unknown jobs) are left out. */
export function parseBjobs(text: string, now = Date.now()): NativeStatus[] {
  if (!text.trim()) return [];
  const doc = JSON.parse(text) as { RECORDS?: Record<string, string>[] };
  const out: NativeStatus[] = [];
  for (const r of doc.RECORDS ?? []) {
    if (r.ERROR || !r.JOBID) continue;
    const idm = /^(\d+)(?:\[(\d+)\])?$/.exec(r.JOBID.trim());
    if (!idm) continue;
    const stat = (r.STAT ?? '').trim();
    const { state, reason } = lsfState(stat, (r.EXIT_REASON ?? '').trim());
    const e: NativeStatus = { jobId: idm[1]!, state, raw: stat };
    const idx = idm[2] ?? (r.JOBINDEX && r.JOBINDEX !== '0' ? r.JOBINDEX : undefined);
    if (idx !== undefined && /^\d+$/.test(idx)) e.index = Number(idx);
    if (reason) e.reason = reason;
    const start = parseLsfTime(r.START_TIME, now);
    if (start !== undefined && state !== 'PENDING') e.startedAt = start;
    if (state !== 'PENDING' && state !== 'RUNNING') {
      const end = parseLsfTime(r.FINISH_TIME, now);
      if (end !== undefined) e.endedAt = end;
      const code = (r.EXIT_CODE ?? '').trim();
      if (/^\d+$/.test(code)) Object.assign(e, decodeShellStatus(Number(code)));
      else if (state === 'COMPLETED') e.exitCode = 0;
    }
    out.push(e);
  }
  return out;
}
