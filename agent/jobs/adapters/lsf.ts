/**
 * IBM LSF: bsub (script on stdin) / `bjobs -o … -json -a` / bkill. Built from
 * the documented formats (no LSF on the testbed) and tested against fixtures.
 *
 * LSF cannot express: qos — an error. Memory is passed with an explicit unit
 * (-M 4096MB, rusage[mem=4096MB]) so LSF_UNIT_FOR_LIMITS does not matter.
 */
import { join } from 'node:path';
import { formatIndices } from '../../../protocol/index.js';
import { BJOBS_FIELDS, parseBjobs, parseBsub } from '../parse/lsf.js';
import { runOk, unsupported } from './common.js';
import { schedulerError, type Runner } from './exec.js';
import type { Adapter, ArrayLimits, Argv, FinishedInfo, StatusReport, SubmitRequest } from './types.js';

export class LsfAdapter implements Adapter {
  readonly name = 'lsf' as const;
  readonly arrayBase = 1 as const;
  readonly #runner: Runner;
  readonly #readFile: (path: string) => string;

  constructor(runner: Runner, readFile: (path: string) => string) {
    this.#runner = runner;
    this.#readFile = readFile;
  }

  schedLogPattern(jobDir: string, isArray: boolean): string {
    return join(jobDir, 'sched', isArray ? 'lsf-%J_%I.log' : 'lsf-%J.log');
  }

  schedLogFile(jobDir: string, _chunk: number, nativeId: string, index?: number): string {
    return join(jobDir, 'sched', index === undefined ? `lsf-${nativeId}.log` : `lsf-${nativeId}_${index}.log`);
  }

  /** MAX_JOB_ARRAY_SIZE (default 1000) bounds both the count and the largest index. */
  async arrayLimits(): Promise<ArrayLimits> {
    return { maxIndex: 1000, maxCount: 1000 };
  }

  submitArgv(req: SubmitRequest): Argv {
    const { spec } = req;
    const r = spec.resources;
    if (r.qos !== undefined)
      throw unsupported('lsf', 'resources.qos', 'LSF has no QOS (service classes are site-specific: use directives ["-sla", "<class>"])');
    let name = req.schedName;
    if (req.indices) name += `[${formatIndices(req.indices)}]${req.maxConcurrent > 0 ? `%${req.maxConcurrent}` : ''}`;
    const a = ['-J', name, '-cwd', req.jobDir, '-o', req.schedLog];
    const slots = (r.tasks ?? 1) * (r.cpus ?? 1);
    if (slots > 1) a.push('-n', String(slots));
    const res: string[] = [];
    if (r.nodes === 1) res.push('span[hosts=1]');
    else if (r.nodes !== undefined) res.push(`span[ptile=${Math.ceil(slots / r.nodes)}]`);
    if (r.constraint !== undefined) res.push(`select[${r.constraint}]`);
    if (r.memoryMb !== undefined) {
      a.push('-M', `${r.memoryMb}MB`);
      res.push(`rusage[mem=${r.memoryMb}MB]`);
    }
    if (res.length) a.push('-R', res.join(' '));
    if (r.timeSec !== undefined) {
      const min = Math.ceil(r.timeSec / 60);
      a.push('-W', `${Math.floor(min / 60)}:${String(min % 60).padStart(2, '0')}`);
    }
    if (r.gpus !== undefined) {
      const [type, n] = typeof r.gpus === 'string' && r.gpus.includes(':') ? r.gpus.split(':') : [undefined, String(r.gpus)];
      a.push('-gpu', type ? `num=${n}:gmodel=${type}` : `num=${n}`);
    }
    if (r.exclusive) a.push('-x');
    if (r.partition !== undefined) a.push('-q', r.partition);
    if (r.account !== undefined) a.push('-P', r.account);
    const dep = [...req.afterok.map((id) => `done(${id})`), ...req.afterany.map((id) => `ended(${id})`)];
    if (dep.length) a.push('-w', dep.join(' && '));
    a.push(...spec.directives);
    // bsub spools the script from stdin (a command argument would be re-joined into a shell line).
    return { cmd: 'bsub', args: a, stdin: this.#readFile(req.wrapperPath) };
  }

  async submit(req: SubmitRequest): Promise<string> {
    const argv = this.submitArgv(req);
    const r = await runOk(this.#runner, argv.cmd, argv.args, argv.stdin);
    const id = parseBsub(r.stdout);
    if (!id) throw schedulerError([argv.cmd, ...argv.args], r, `could not read a job id from bsub output: ${r.stdout.slice(0, 200)}`);
    return id;
  }

  async status(nativeIds: string[]): Promise<StatusReport> {
    if (nativeIds.length === 0) return { entries: [], authoritative: true };
    const args = ['-o', BJOBS_FIELDS, '-json', '-a', ...nativeIds];
    const r = await this.#runner.run('bjobs', args);
    if (!r.stdout.trim().startsWith('{')) throw schedulerError(['bjobs', ...args], r);
    return { entries: parseBjobs(r.stdout), authoritative: true };
  }

  async cancel(nativeIds: string[], tasks?: { jobId: string; indices: number[] }): Promise<void> {
    const ids = tasks ? tasks.indices.map((i) => `${tasks.jobId}[${i}]`) : nativeIds;
    if (ids.length === 0) return;
    const r = await this.#runner.run('bkill', ids);
    const bad = r.stderr.split('\n').filter((l) => l.trim() && !/already finished|No matching job|is being terminated/i.test(l));
    if (r.code !== 0 && bad.length) throw schedulerError(['bkill', ...ids], r);
  }

  async describe(nativeId: string, index?: number): Promise<FinishedInfo | null> {
    const r = await this.#runner.run('bjobs', ['-o', BJOBS_FIELDS, '-json', '-a', index === undefined ? nativeId : `${nativeId}[${index}]`]);
    if (!r.stdout.trim().startsWith('{')) return null;
    const e = parseBjobs(r.stdout)[0];
    if (!e || e.state === 'PENDING' || e.state === 'RUNNING') return null;
    const info: FinishedInfo = { state: e.state, exitCode: e.exitCode ?? null, signal: e.signal ?? null };
    if (e.reason) info.reason = e.reason;
    return info;
  }
}
