/**
 * OpenPBS / PBS Pro: qsub / `qstat -f -F json -x -t` / qdel. Built from the
 * documented formats (no PBS on the testbed) and tested against fixtures.
 *
 * PBS cannot express: qos, constraint, typed gpus — an error each.
 */
import { join } from 'node:path';
import { parsePbsQstat, parseQsubPbs } from '../parse/pbs.js';
import { hms, progression, runOk, unsupported } from './common.js';
import { schedulerError, type Runner } from './exec.js';
import type { Adapter, ArrayLimits, Argv, FinishedInfo, StatusReport, SubmitRequest } from './types.js';

/** "1234[].server" + 7 → "1234[7].server". */
function subjob(jobId: string, index: number): string {
  return jobId.replace('[]', `[${index}]`);
}

export class PbsAdapter implements Adapter {
  readonly name = 'pbs' as const;
  readonly arrayBase = 0 as const;
  readonly rangesOnly = true;
  readonly #runner: Runner;

  constructor(runner: Runner) {
    this.#runner = runner;
  }

  schedLogPattern(jobDir: string, isArray: boolean, chunk: number): string {
    return join(jobDir, 'sched', isArray ? `pbs-c${chunk}.^array_index^.log` : `pbs-c${chunk}.log`);
  }

  schedLogFile(jobDir: string, chunk: number, _nativeId: string, index?: number): string {
    return join(jobDir, 'sched', index === undefined ? `pbs-c${chunk}.log` : `pbs-c${chunk}.${index}.log`);
  }

  /** The server's max_array_size defaults to 10000. */
  async arrayLimits(): Promise<ArrayLimits> {
    return { maxIndex: 2 ** 31 - 2, maxCount: 10_000 };
  }

  submitArgv(req: SubmitRequest): Argv {
    const { spec } = req;
    const r = spec.resources;
    if (r.qos !== undefined) throw unsupported('pbs', 'resources.qos', 'PBS has no QOS');
    if (r.constraint !== undefined) throw unsupported('pbs', 'resources.constraint', "use directives with your site's custom resources in -l select");
    if (typeof r.gpus === 'string' && r.gpus.includes(':'))
      throw unsupported('pbs', 'resources.gpus', 'PBS counts ngpus only; pick the GPU type with directives');
    const a = ['-N', req.schedName, '-o', req.schedLog, '-j', 'oe', '-S', '/bin/sh'];
    const nodes = r.nodes ?? 1;
    let select = `${nodes}:ncpus=${r.cpus ?? 1}`;
    if (r.memoryMb !== undefined) select += `:mem=${r.memoryMb}mb`;
    if (r.gpus !== undefined) select += `:ngpus=${r.gpus}`;
    if (r.tasks !== undefined) select += `:mpiprocs=${Math.ceil(r.tasks / nodes)}`;
    a.push('-l', `select=${select}`);
    if (r.timeSec !== undefined) a.push('-l', `walltime=${hms(r.timeSec)}`);
    if (r.exclusive) a.push('-l', nodes > 1 ? 'place=scatter:excl' : 'place=excl');
    if (r.partition !== undefined) a.push('-q', r.partition);
    if (r.account !== undefined) a.push('-A', r.account);
    if (req.indices) a.push('-J', progression(req.indices) + (req.maxConcurrent > 0 ? `%${req.maxConcurrent}` : ''));
    const dep = [...(req.afterok.length ? [`afterok:${req.afterok.join(':')}`] : []), ...(req.afterany.length ? [`afterany:${req.afterany.join(':')}`] : [])];
    if (dep.length) a.push('-W', `depend=${dep.join(',')}`);
    a.push(...spec.directives, req.wrapperPath);
    return { cmd: 'qsub', args: a };
  }

  async submit(req: SubmitRequest): Promise<string> {
    const argv = this.submitArgv(req);
    const r = await runOk(this.#runner, argv.cmd, argv.args);
    const id = parseQsubPbs(r.stdout);
    if (!id) throw schedulerError([argv.cmd, ...argv.args], r, `could not read a job id from qsub output: ${r.stdout.slice(0, 200)}`);
    return id;
  }

  async status(nativeIds: string[]): Promise<StatusReport> {
    if (nativeIds.length === 0) return { entries: [], authoritative: true };
    const args = ['-f', '-F', 'json', '-x', '-t', ...nativeIds];
    const r = await this.#runner.run('qstat', args);
    // Unknown (purged) ids are reported on stderr while the others still print: not a failure.
    const other = r.stderr.split('\n').filter((l) => l.trim() && !/Unknown Job Id|Job has finished/i.test(l));
    if (r.code !== 0 && other.length > 0) throw schedulerError(['qstat', ...args], r);
    return { entries: parsePbsQstat(r.stdout), authoritative: true };
  }

  async cancel(nativeIds: string[], tasks?: { jobId: string; indices: number[] }): Promise<void> {
    const ids = tasks ? tasks.indices.map((i) => subjob(tasks.jobId, i)) : nativeIds;
    if (ids.length === 0) return;
    const r = await this.#runner.run('qdel', ids);
    const bad = r.stderr.split('\n').filter((l) => l.trim() && !/Unknown Job Id|Job has finished|not allowed/i.test(l));
    if (r.code !== 0 && bad.length) throw schedulerError(['qdel', ...ids], r);
  }

  async describe(nativeId: string, index?: number): Promise<FinishedInfo | null> {
    const id = index === undefined ? nativeId : subjob(nativeId, index);
    const r = await this.#runner.run('qstat', ['-f', '-F', 'json', '-x', id]);
    if (!r.stdout.trim()) return null;
    const e = parsePbsQstat(r.stdout)[0];
    if (!e || e.state === 'PENDING' || e.state === 'RUNNING') return null;
    const info: FinishedInfo = { state: e.state, exitCode: e.exitCode ?? null, signal: e.signal ?? null };
    if (e.reason) info.reason = e.reason;
    return info;
  }
}
