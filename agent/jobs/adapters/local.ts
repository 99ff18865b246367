/** The local scheduler behind the adapter interface (no external commands). */
import { join } from 'node:path';
import { ProtocolError } from '../../../protocol/index.js';
import type { LocalScheduler } from '../local-scheduler.js';
import type { Adapter, ArrayLimits, Argv, FinishedInfo, StatusReport, SubmitRequest } from './types.js';

export class LocalAdapter implements Adapter {
  readonly name = 'local' as const;
  readonly arrayBase = 0 as const;
  readonly calls: Record<string, number> = {};
  readonly #sched: LocalScheduler;

  constructor(sched: LocalScheduler) {
    this.#sched = sched;
  }

  schedLogPattern(jobDir: string, isArray: boolean): string {
    return join(jobDir, 'sched', isArray ? 'local-%a.log' : 'local-job.log');
  }

  schedLogFile(jobDir: string, _chunk: number, _nativeId: string, index?: number): string {
    return join(jobDir, 'sched', `local-${index ?? 'job'}.log`);
  }

  async arrayLimits(): Promise<ArrayLimits> {
    return { maxIndex: Number.MAX_SAFE_INTEGER, maxCount: Number.MAX_SAFE_INTEGER };
  }

  /** Nothing to run: the local scheduler is in-process. Shown for `describe`-style debugging. */
  submitArgv(req: SubmitRequest): Argv {
    const r = req.spec.resources;
    if (r.gpus !== undefined)
      throw new ProtocolError('UNSUPPORTED', 'local cannot express spec.resources.gpus: the local scheduler does not manage GPUs', { field: 'resources.gpus' });
    if ((r.nodes ?? 1) > 1)
      throw new ProtocolError('UNSUPPORTED', 'local cannot express spec.resources.nodes: the local scheduler runs on one host', { field: 'resources.nodes' });
    for (const f of ['partition', 'account', 'qos', 'constraint'] as const) {
      if (r[f] !== undefined)
        throw new ProtocolError('UNSUPPORTED', `local cannot express spec.resources.${f}: the local scheduler has one queue and no accounts`, {
          field: `resources.${f}`,
        });
    }
    return { cmd: '/bin/sh', args: [req.wrapperPath] };
  }

  async submit(req: SubmitRequest): Promise<string> {
    this.submitArgv(req);
    const r = req.spec.resources;
    this.calls.submit = (this.calls.submit ?? 0) + 1;
    try {
      return this.#sched.submit({
        id: req.id,
        jobDir: req.jobDir,
        wrapperPath: req.wrapperPath,
        schedLog: req.schedLog,
        ...(req.indices ? { indices: req.indices } : {}),
        maxConcurrent: req.maxConcurrent,
        // exclusive: the whole host.
        cpus: r.exclusive ? this.#sched.slots : Math.min((r.cpus ?? 1) * (r.tasks ?? 1), Number.MAX_SAFE_INTEGER),
        ...(r.memoryMb !== undefined ? { memoryMb: r.memoryMb } : {}),
        ...(r.timeSec !== undefined ? { timeSec: r.timeSec } : {}),
        afterok: req.afterok,
        afterany: req.afterany,
        submittedAt: Date.now(),
      });
    } catch (err) {
      throw new ProtocolError('SCHEDULER', `local scheduler: ${(err as Error).message}`);
    }
  }

  async status(nativeIds: string[]): Promise<StatusReport> {
    this.calls.status = (this.calls.status ?? 0) + 1;
    return { entries: this.#sched.status(nativeIds), authoritative: false };
  }

  async cancel(nativeIds: string[], tasks?: { jobId: string; indices: number[] }): Promise<void> {
    this.calls.cancel = (this.calls.cancel ?? 0) + 1;
    if (tasks) this.#sched.cancel(tasks.jobId, tasks.indices);
    else for (const id of nativeIds) this.#sched.cancel(id);
  }

  async describe(): Promise<FinishedInfo | null> {
    return null;
  }
}
