/**
 * OpenPBS / PBS Pro output parsers (pure; tested on fixtures in the
 * documented shapes): `qsub`, `qstat -f -F json [-x] [-t]`, including its
 * known defects — a missing `Jobs` key, string exit status, and invalid JSON
 * with unquoted numeric-looking environment values (`"foo":005`).
 */
import type { JobState } from '../../../protocol/index.js';
import type { NativeStatus } from '../adapters/types.js';
import { parseCtime, signalName } from './common.js';

/** `1013.server`, `1234[].server` → the id as printed (qstat/qdel want it whole). */
export function parseQsubPbs(stdout: string): string | null {
  for (const line of stdout.split('\n')) {
    const t = line.trim();
    if (/^\d+(\[\])?(\.[\w.-]+)?$/.test(t)) return t;
  }
  return null;
}

/**
 * JSON.parse, and if that fails, again after quoting every bare value that is
 * not a valid JSON literal (PBS prints `"PBS_O_X":005`). A small scanner, so
 * colons inside strings (`"host:/path"`) are never touched.
 */
export function parseLenientJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return JSON.parse(repairJson(text));
  }
}

export function repairJson(text: string): string {
  let out = '';
  let i = 0;
  let inString = false;
  let afterColon = false;
  while (i < text.length) {
    const c = text[i]!;
    if (inString) {
      out += c;
      if (c === '\\') {
        out += text[i + 1] ?? '';
        i += 2;
        continue;
      }
      if (c === '"') inString = false;
      i++;
      continue;
    }
    if (c === '"') {
      inString = true;
      afterColon = false;
      out += c;
      i++;
      continue;
    }
    if (c === ':') {
      afterColon = true;
      out += c;
      i++;
      continue;
    }
    if (afterColon && !/[\s{[]/.test(c)) {
      let j = i;
      while (j < text.length && !/[,}\]\n]/.test(text[j]!)) j++;
      const token = text.slice(i, j).trim();
      const valid = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(token) || token === 'true' || token === 'false' || token === 'null';
      out += valid ? token : JSON.stringify(token);
      afterColon = false;
      i = j;
      continue;
    }
    if (!/\s/.test(c)) afterColon = false;
    out += c;
    i++;
  }
  return out;
}

/** PBS state letters → ours (terminal F/X need the exit status, see pbsOutcome). */
export function pbsLiveState(code: string): { state: JobState; reason?: string } | null {
  switch (code) {
    case 'Q':
      return { state: 'PENDING' };
    case 'H':
      return { state: 'PENDING', reason: 'held' };
    case 'W':
      return { state: 'PENDING', reason: 'waiting for its start time' };
    case 'T':
    case 'M':
      return { state: 'PENDING', reason: code === 'T' ? 'transiting' : 'moved' };
    case 'R':
    case 'E':
    case 'B':
      return { state: 'RUNNING' };
    case 'S':
    case 'U':
      return { state: 'RUNNING', reason: 'suspended' };
    default:
      return null;
  }
}

/**
 * Outcome of a finished job (state F or X). PBS Pro exit statuses: >= 256
 * means killed by signal (status − 256); negative values are PBS's own
 * JOB_EXEC_* codes (-11/-29: walltime, -27: memory…), and `comment` often says
 * "job killed: walltime … exceeded limit" or "mem … exceeded".
 */
export function pbsOutcome(exit: number | null, comment: string): { state: JobState; exitCode: number | null; signal: string | null; reason?: string } {
  if (/walltime .*exceeded/i.test(comment) || exit === -11 || exit === -29)
    return { state: 'TIMEOUT', exitCode: exit, signal: null, reason: comment || 'walltime exceeded' };
  if (/\bp?v?mem .*exceeded|memory/i.test(comment) || exit === -27)
    return { state: 'OUT_OF_MEMORY', exitCode: exit, signal: null, reason: comment || 'memory limit exceeded' };
  if (exit === null) return { state: 'FAILED', exitCode: null, signal: null, reason: comment || 'no exit status recorded' };
  if (exit >= 256)
    return { state: /qdel|deleted/i.test(comment) ? 'CANCELLED' : 'FAILED', exitCode: null, signal: signalName(exit - 256), reason: comment || undefined };
  if (exit < 0) return { state: exit === -3 ? 'NODE_FAIL' : 'FAILED', exitCode: exit, signal: null, reason: comment || `PBS exit status ${exit}` };
  return { state: exit === 0 ? 'COMPLETED' : 'FAILED', exitCode: exit, signal: null, reason: comment || undefined };
}

function num(x: unknown): number | null {
  if (typeof x === 'number') return x;
  if (typeof x === 'string' && /^-?\d+$/.test(x.trim())) return Number(x.trim());
  return null;
}

/** `1234[7].server` → { jobId: "1234[].server", index: 7 }. */
export function splitPbsId(id: string): { jobId: string; index?: number } {
  const m = /^(\d+)\[(\d+)\](.*)$/.exec(id);
  return m ? { jobId: `${m[1]}[]${m[3]}`, index: Number(m[2]) } : { jobId: id };
}

/** `qstat -f -F json -x -t <ids>` → entries (array parents are skipped when their subjobs are listed). */
export function parsePbsQstat(text: string): NativeStatus[] {
  if (!text.trim()) return [];
  const doc = parseLenientJson(text) as { Jobs?: Record<string, Record<string, unknown>> };
  const jobs = doc?.Jobs ?? {};
  const out: NativeStatus[] = [];
  for (const [id, j] of Object.entries(jobs)) {
    if (/\[\]/.test(id) && j.array) continue; // the array itself: its subjobs carry the states
    const code = String(j.job_state ?? '');
    const { jobId, index } = splitPbsId(id);
    const e: NativeStatus = { jobId, raw: code, state: 'PENDING' };
    if (index !== undefined) e.index = index;
    const live = pbsLiveState(code);
    if (live) {
      e.state = live.state;
      if (live.reason) e.reason = live.reason;
    } else {
      const o = pbsOutcome(num(j.Exit_status), String(j.comment ?? ''));
      e.state = o.state;
      e.exitCode = o.exitCode;
      e.signal = o.signal;
      if (o.reason) e.reason = o.reason;
      const end = parseCtime(String(j.obittime ?? j.mtime ?? ''));
      if (end !== undefined) e.endedAt = end;
    }
    const st = parseCtime(typeof j.stime === 'string' ? j.stime : undefined);
    if (st !== undefined && e.state !== 'PENDING') e.startedAt = st;
    out.push(e);
  }
  return out;
}
