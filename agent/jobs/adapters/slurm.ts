/**
 * Slurm: sbatch / squeue / scancel / scontrol. Status of every job in ONE
 * `squeue -h -r -t all -u <user>` call (finished jobs stay listed for
 * MinJobAge); no sacct needed.
 */
import { join } from 'node:path';
import { formatIndices } from '../../../protocol/index.js';
import { parseSbatch, parseScontrolRecords, parseSqueue, scontrolFinished, SQUEUE_FORMAT } from '../parse/slurm.js';
import { runOk, slurmTime } from './common.js';
import { schedulerError, type Runner } from './exec.js';
import type { Adapter, Argv, FinishedInfo, StatusReport, SubmitRequest } from './types.js';

export class SlurmAdapter implements Adapter {
  readonly name = 'slurm' as const;
  readonly arrayBase = 0 as const;
  readonly #runner: Runner;
  readonly #user: string;
  #limits: { maxIndex: number; maxCount: number } | null = null;

  constructor(runner: Runner, user: string) {
    this.#runner = runner;
    this.#user = user;
  }

  schedLogPattern(jobDir: string, isArray: boolean, _chunk: number): string {
    return join(jobDir, 'sched', isArray ? 'slurm-%A_%a.log' : 'slurm-%j.log');
  }

  schedLogFile(jobDir: string, _chunk: number, nativeId: string, index?: number): string {
    return join(jobDir, 'sched', index === undefined ? `slurm-${nativeId}.log` : `slurm-${nativeId}_${index}.log`);
  }

  /** MaxArraySize bounds the largest index (index < MaxArraySize). Read once from `scontrol show config`. */
  async arrayLimits(): Promise<{ maxIndex: number; maxCount: number }> {
    if (this.#limits) return this.#limits;
    const r = await this.#runner.run('scontrol', ['show', 'config']);
    const m = /^MaxArraySize\s*=\s*(\d+)/m.exec(r.stdout);
    const max = m ? Number(m[1]) : 1001;
    this.#limits = { maxIndex: max - 1, maxCount: max };
    return this.#limits;
  }

  submitArgv(req: SubmitRequest): Argv {
    const { spec } = req;
    const r = spec.resources;
    const a = ['--parsable', `--job-name=${req.schedName}`, `--chdir=${req.jobDir}`, `--output=${req.schedLog}`, `--comment=clustrix:${req.id}`];
    if (r.cpus !== undefined) a.push(`--cpus-per-task=${r.cpus}`);
    if (r.memoryMb !== undefined) a.push(`--mem=${r.memoryMb}M`);
    if (r.timeSec !== undefined) a.push(`--time=${slurmTime(r.timeSec)}`);
    if (r.gpus !== undefined) a.push(`--gpus=${r.gpus}`);
    if (r.nodes !== undefined) a.push(`--nodes=${r.nodes}`);
    if (r.tasks !== undefined) a.push(`--ntasks=${r.tasks}`);
    if (r.partition !== undefined) a.push(`--partition=${r.partition}`);
    if (r.account !== undefined) a.push(`--account=${r.account}`);
    if (r.qos !== undefined) a.push(`--qos=${r.qos}`);
    if (r.constraint !== undefined) a.push(`--constraint=${r.constraint}`);
    if (r.exclusive) a.push('--exclusive');
    if (req.indices) a.push(`--array=${formatIndices(req.indices)}${req.maxConcurrent > 0 ? `%${req.maxConcurrent}` : ''}`);
    const dep = [...(req.afterok.length ? [`afterok:${req.afterok.join(':')}`] : []), ...(req.afterany.length ? [`afterany:${req.afterany.join(':')}`] : [])];
    if (dep.length) a.push(`--dependency=${dep.join(',')}`);
    a.push(...spec.directives, req.wrapperPath);
    return { cmd: 'sbatch', args: a };
  }

  async submit(req: SubmitRequest): Promise<string> {
    const argv = this.submitArgv(req);
    const r = await runOk(this.#runner, argv.cmd, argv.args);
    const id = parseSbatch(r.stdout);
    if (!id) throw schedulerError([argv.cmd, ...argv.args], r, `could not read a job id from sbatch output: ${r.stdout.slice(0, 200)}`);
    return id;
  }

  async status(_nativeIds: string[]): Promise<StatusReport> {
    const r = await runOk(this.#runner, 'squeue', ['-h', '-r', '-t', 'all', '-u', this.#user, '-O', SQUEUE_FORMAT]);
    return { entries: parseSqueue(r.stdout), authoritative: true };
  }

  async cancel(nativeIds: string[], tasks?: { jobId: string; indices: number[] }): Promise<void> {
    const ids = tasks ? tasks.indices.map((i) => `${tasks.jobId}_${i}`) : nativeIds;
    if (ids.length === 0) return;
    // scancel is silent (exit 0) for unknown or finished jobs.
    await runOk(this.#runner, 'scancel', ids);
  }

  /** Jobs carry --comment=clustrix:<id>: find one whose submit was interrupted before its id was recorded. */
  async findSubmitted(id: string): Promise<string | null> {
    const r = await runOk(this.#runner, 'squeue', ['-h', '-t', 'all', '-u', this.#user, '-O', 'ArrayJobID:|,Comment:']);
    for (const line of r.stdout.split('\n')) {
      const [jobId, comment] = line.split('|').map((x) => x.trim());
      if (comment === `clustrix:${id}` && jobId) return jobId;
    }
    return null;
  }

  async describe(nativeId: string, index?: number): Promise<FinishedInfo | null> {
    const id = index === undefined ? nativeId : `${nativeId}_${index}`;
    const r = await this.#runner.run('scontrol', ['show', 'job', '-o', id]);
    if (r.code !== 0) {
      if (/Invalid job id/i.test(r.stderr)) return null;
      throw schedulerError(['scontrol', 'show', 'job', '-o', id], r);
    }
    const rec = parseScontrolRecords(r.stdout)[0];
    return rec ? scontrolFinished(rec) : null;
  }
}
