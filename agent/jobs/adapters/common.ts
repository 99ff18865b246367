/** Helpers shared by the adapters' translations. */
import { ProtocolError, formatIndices, type SchedulerName } from '../../../protocol/index.js';
import type { Runner, RunResult } from './exec.js';
import { schedulerError } from './exec.js';

/** What a scheduler cannot express is an error naming the field, never silently dropped. */
export function unsupported(scheduler: SchedulerName, field: string, hint: string): ProtocolError {
  return new ProtocolError('UNSUPPORTED', `${scheduler} cannot express spec.${field}: ${hint}`, { scheduler, field });
}

/** A job name every scheduler accepts: [A-Za-z0-9_.+-], not starting with a digit, ≤ 64 chars. */
export function schedulerJobName(name: string): string {
  let n = name.replace(/[^A-Za-z0-9_.+-]/g, '_').slice(0, 64);
  if (!n) n = 'clustrix';
  if (/^[0-9.]/.test(n)) n = `j${n}`.slice(0, 64);
  return n;
}

/** Seconds → "D-HH:MM:SS" (Slurm). */
export function slurmTime(sec: number): string {
  const d = Math.floor(sec / 86400);
  const rest = sec % 86400;
  return `${d}-${hms(rest)}`;
}

/** Seconds → "HH:MM:SS" (hours may exceed 24). */
export function hms(sec: number): string {
  const h = Math.floor(sec / 3600);
  const m = Math.floor((sec % 3600) / 60);
  const s = sec % 60;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
}

/** True when the indices are one arithmetic progression (expressible as lo-hi:step). */
export function isProgression(indices: readonly number[]): boolean {
  if (indices.length < 3) return true;
  const step = indices[1]! - indices[0]!;
  for (let i = 2; i < indices.length; i++) if (indices[i]! - indices[i - 1]! !== step) return false;
  return true;
}

/** "lo-hi:step" for a progression (SGE -t, PBS -J). */
export function progression(indices: readonly number[]): string {
  const lo = indices[0]!;
  const hi = indices[indices.length - 1]!;
  if (indices.length === 1) return `${lo}-${lo}`;
  const step = indices[1]! - lo;
  return step === 1 ? `${lo}-${hi}` : `${lo}-${hi}:${step}`;
}

export { formatIndices };

/** Run and throw a SCHEDULER error on a non-zero exit. */
export async function runOk(runner: Runner, cmd: string, args: string[], stdin?: string): Promise<RunResult> {
  const r = await runner.run(cmd, args, stdin === undefined ? {} : { stdin });
  if (r.code !== 0) throw schedulerError([cmd, ...args], r);
  return r;
}
