/**
 * Grid Engine output parsers (pure; tested on recorded SGE 8.1.9 output):
 * `qsub -terse`, `qstat -xml`, `qacct -j`.
 */
import type { JobState } from '../../../protocol/index.js';
import type { FinishedInfo, NativeStatus } from '../adapters/types.js';
import { decodeShellStatus, expandTaskRange, parseLocalIso, xmlDecode } from './common.js';

/** `6` or `7.1-3:1` (array) → "6" / "7". Also reads the non-terse sentence. */
export function parseQsub(stdout: string): string | null {
  for (const line of stdout.split('\n')) {
    const t = line.trim();
    let m = /^(\d+)(?:\.\d+-\d+:\d+)?$/.exec(t);
    if (m) return m[1]!;
    m = /^Your job(?:-array)? (\d+)/.exec(t);
    if (m) return m[1]!;
  }
  return null;
}

/** SGE state letters → ours. */
export function sgeState(code: string): { state: JobState; reason?: string } {
  if (code.includes('E')) return { state: 'PENDING', reason: `error state ${code}: the job cannot start (qstat -j shows why)` };
  if (code.includes('d')) return { state: 'RUNNING', reason: 'being deleted' };
  if (/[sST]/.test(code)) return { state: 'RUNNING', reason: `suspended (${code})` };
  if (code.includes('r') || code.includes('t')) return { state: 'RUNNING' };
  if (code.includes('z')) return { state: 'COMPLETED', reason: 'finished (zombie)' };
  if (code.includes('h')) return { state: 'PENDING', reason: `held (${code})` };
  return { state: 'PENDING' };
}

/** `qstat -xml [-u user]` → one entry per job or array task; pending ranges are expanded. */
export function parseQstatXml(xml: string): NativeStatus[] {
  const out: NativeStatus[] = [];
  const jobRe = /<job_list\b[^>]*>([\s\S]*?)<\/job_list>/g;
  for (let m = jobRe.exec(xml); m; m = jobRe.exec(xml)) {
    const f: Record<string, string> = {};
    const fieldRe = /<(\w+)>([^<]*)<\/\1>/g;
    for (let fm = fieldRe.exec(m[1]!); fm; fm = fieldRe.exec(m[1]!)) f[fm[1]!] = xmlDecode(fm[2]!.trim());
    const jobId = f.JB_job_number;
    if (!jobId) continue;
    const raw = f.state ?? '';
    const { state, reason } = sgeState(raw);
    const base: NativeStatus = { jobId, state, raw };
    if (reason) base.reason = reason;
    const started = parseLocalIso(f.JAT_start_time);
    if (started !== undefined && state === 'RUNNING') base.startedAt = started;
    if (f.tasks) for (const index of expandTaskRange(f.tasks)) out.push({ ...base, index });
    else out.push(base);
  }
  return out;
}

export interface QacctRecord {
  jobnumber: string;
  taskid?: number;
  failedCode: number;
  failedText: string;
  exitStatus: number;
  wallSec?: number;
  /** The submit request as qacct shows it, e.g. "-q long.q -l h_rt=3". */
  category: string;
}

/** `qacct -j <id>`: one record per job or array task. */
export function parseQacct(text: string): QacctRecord[] {
  const out: QacctRecord[] = [];
  for (const block of text.split(/^={10,}\s*$/m)) {
    const f: Record<string, string> = {};
    for (const line of block.split('\n')) {
      const m = /^(\w+)\s+(.*?)\s*$/.exec(line);
      if (m && !(m[1]! in f)) f[m[1]!] = m[2]!;
    }
    if (!f.jobnumber) continue;
    const failed = /^(\d+)\s*(?::\s*(.*))?$/.exec(f.failed ?? '0');
    const rec: QacctRecord = {
      jobnumber: f.jobnumber,
      failedCode: Number(failed?.[1] ?? 0),
      failedText: (failed?.[2] ?? '').trim(),
      exitStatus: Number.parseInt(f.exit_status ?? '0', 10),
      category: f.category ?? '',
    };
    if (f.taskid && /^\d+$/.test(f.taskid)) rec.taskid = Number(f.taskid);
    const wall = /^(\d+(?:\.\d+)?)s?$/.exec(f.ru_wallclock ?? '');
    if (wall) rec.wallSec = Number(wall[1]);
    out.push(rec);
  }
  return out;
}

/**
 * A qacct record → outcome. `failed 37` ("qmaster enforced h_rt, h_cpu, or
 * h_vmem limit") is a time limit when the job ran for its h_rt, else memory.
 */
export function qacctFinished(r: QacctRecord): FinishedInfo {
  const { exitCode, signal } = decodeShellStatus(r.exitStatus);
  const info: FinishedInfo = { exitCode, signal };
  if (r.wallSec !== undefined) info.wallSec = r.wallSec;
  if (r.failedText) info.reason = `failed ${r.failedCode}: ${r.failedText}`;
  const hrt = /h_rt=(\d+)(?::(\d+):(\d+))?/.exec(r.category);
  const limit = hrt ? (hrt[2] === undefined ? Number(hrt[1]) : Number(hrt[1]) * 3600 + Number(hrt[2]) * 60 + Number(hrt[3])) : undefined;
  if (r.failedCode === 37 || /h_rt|h_vmem|h_cpu/.test(r.failedText)) {
    if (limit !== undefined && r.wallSec !== undefined && r.wallSec >= limit - 1) info.state = 'TIMEOUT';
    else if (/h_vmem|mem/.test(r.category)) info.state = 'OUT_OF_MEMORY';
    else info.state = 'TIMEOUT';
  } else if (r.failedCode === 0 && r.exitStatus === 0) info.state = 'COMPLETED';
  else info.state = 'FAILED';
  return info;
}
