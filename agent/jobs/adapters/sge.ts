/**
 * (Son of) Grid Engine: qsub / qstat -xml / qdel / qacct. A job that leaves
 * qstat has finished; its outcome comes from the wrapper's exit record, and
 * from `qacct -j` when the wrapper was killed (h_rt, qdel of a running job).
 *
 * Grid Engine cannot express: afterok (hold_jid waits for any end), gpus,
 * qos, constraint, exclusive, more than one node or task — an error each.
 * cpus > 1 need a parallel environment: `smp` unless $CLUSTRIX_SGE_PE names another.
 */
import { join } from 'node:path';
import { parseQacct, parseQstatXml, parseQsub, qacctFinished } from '../parse/sge.js';
import { progression, runOk, unsupported } from './common.js';
import { schedulerError, type Runner } from './exec.js';
import type { Adapter, ArrayLimits, Argv, FinishedInfo, StatusReport, SubmitRequest } from './types.js';

export class SgeAdapter implements Adapter {
  readonly name = 'sge' as const;
  readonly arrayBase = 1 as const;
  readonly rangesOnly = true;
  readonly #runner: Runner;
  readonly #user: string;
  readonly #pe: string;
  #limits: ArrayLimits | null = null;

  constructor(runner: Runner, user: string, pe = 'smp') {
    this.#runner = runner;
    this.#user = user;
    this.#pe = pe;
  }

  schedLogPattern(jobDir: string, isArray: boolean): string {
    // qsub expands $JOB_ID and $TASK_ID itself (no shell is involved).
    return join(jobDir, 'sched', isArray ? 'sge-$JOB_ID.$TASK_ID.log' : 'sge-$JOB_ID.log');
  }

  schedLogFile(jobDir: string, _chunk: number, nativeId: string, index?: number): string {
    return join(jobDir, 'sched', index === undefined ? `sge-${nativeId}.log` : `sge-${nativeId}.${index}.log`);
  }

  /** max_aj_tasks of the global configuration (default 75000) caps the tasks of one array. */
  async arrayLimits(): Promise<ArrayLimits> {
    if (this.#limits) return this.#limits;
    const r = await this.#runner.run('qconf', ['-sconf']);
    const m = /^max_aj_tasks\s+(\d+)/m.exec(r.stdout);
    const n = m && Number(m[1]) > 0 ? Number(m[1]) : 75_000;
    this.#limits = { maxIndex: 2 ** 31 - 2, maxCount: n };
    return this.#limits;
  }

  submitArgv(req: SubmitRequest): Argv {
    const { spec } = req;
    const r = spec.resources;
    if (r.gpus !== undefined)
      throw unsupported('sge', 'resources.gpus', 'no standard GPU resource; use directives, e.g. ["-l", "gpu=1"] with your site\'s complex');
    if (r.qos !== undefined) throw unsupported('sge', 'resources.qos', 'Grid Engine has no QOS');
    if (r.constraint !== undefined) throw unsupported('sge', 'resources.constraint', "use directives with your site's -l complexes");
    if (r.exclusive) throw unsupported('sge', 'resources.exclusive', 'needs a site-defined exclusive complex; use directives');
    if ((r.nodes ?? 1) > 1 || (r.tasks ?? 1) > 1)
      throw unsupported(
        'sge',
        r.tasks ? 'resources.tasks' : 'resources.nodes',
        'multi-node/MPI jobs need a site MPI parallel environment; use directives ["-pe", "<pe>", "<n>"]',
      );
    if (req.afterok.length > 0)
      throw unsupported('sge', 'dependencies.afterok', 'Grid Engine -hold_jid waits for the end of a job whatever its exit status; use afterany');
    const a = ['-terse', '-S', '/bin/sh', '-N', req.schedName, '-wd', req.jobDir, '-o', req.schedLog, '-j', 'y'];
    const cpus = r.cpus ?? 1;
    if (cpus > 1) a.push('-pe', this.#pe, String(cpus));
    const l: string[] = [];
    if (r.timeSec !== undefined) l.push(`h_rt=${r.timeSec}`);
    // h_vmem is per slot: split the job's memory over its slots.
    if (r.memoryMb !== undefined) l.push(`h_vmem=${Math.ceil(r.memoryMb / cpus)}M`);
    if (l.length) a.push('-l', l.join(','));
    if (r.partition !== undefined) a.push('-q', r.partition);
    if (r.account !== undefined) a.push('-A', r.account);
    if (req.indices) {
      a.push('-t', progression(req.indices));
      if (req.maxConcurrent > 0) a.push('-tc', String(req.maxConcurrent));
    }
    if (req.afterany.length) a.push('-hold_jid', req.afterany.join(','));
    a.push(...spec.directives, req.wrapperPath);
    return { cmd: 'qsub', args: a };
  }

  async submit(req: SubmitRequest): Promise<string> {
    const argv = this.submitArgv(req);
    const r = await runOk(this.#runner, argv.cmd, argv.args);
    const id = parseQsub(r.stdout);
    if (!id) throw schedulerError([argv.cmd, ...argv.args], r, `could not read a job id from qsub output: ${r.stdout.slice(0, 200)}`);
    return id;
  }

  async status(_nativeIds: string[]): Promise<StatusReport> {
    const r = await runOk(this.#runner, 'qstat', ['-xml', '-u', this.#user]);
    return { entries: parseQstatXml(r.stdout), authoritative: true };
  }

  async cancel(nativeIds: string[], tasks?: { jobId: string; indices: number[] }): Promise<void> {
    const ids = tasks ? tasks.indices.map((i) => `${tasks.jobId}.${i}`) : nativeIds;
    if (ids.length === 0) return;
    const r = await this.#runner.run('qdel', ids);
    // Jobs that already left: `denied: job "N" does not exist` (on stdout), exit 1.
    if (r.code !== 0) {
      const bad = (r.stdout + '\n' + r.stderr).split('\n').filter((l) => l.trim() && !/does not exist|has deleted|registered the job/.test(l));
      if (bad.length) throw schedulerError(['qdel', ...ids], r);
    }
  }

  /** qacct answers for all tasks of an array at once: keep it a few seconds so N tasks cost one call. */
  readonly #acct = new Map<string, { at: number; recs: ReturnType<typeof parseQacct> }>();

  async describe(nativeId: string, index?: number): Promise<FinishedInfo | null> {
    let cached = this.#acct.get(nativeId);
    if (!cached || Date.now() - cached.at > 3000) {
      const r = await this.#runner.run('qacct', ['-j', nativeId]);
      if (r.code !== 0 && !/not found/i.test(r.stderr)) throw schedulerError(['qacct', '-j', nativeId], r);
      cached = { at: Date.now(), recs: r.code === 0 ? parseQacct(r.stdout) : [] };
      this.#acct.set(nativeId, cached);
      for (const [k, v] of this.#acct) if (Date.now() - v.at > 60_000) this.#acct.delete(k);
    }
    const recs = cached.recs;
    const rec = index === undefined ? recs[recs.length - 1] : recs.find((x) => x.taskid === index);
    return rec ? qacctFinished(rec) : null;
  }
}
