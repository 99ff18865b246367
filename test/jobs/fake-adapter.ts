/** An in-memory scheduler behind the adapter interface, for service and poller tests. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProtocolError, type JobState } from '../../protocol/index.js';
import type { Adapter, ArrayLimits, Argv, FinishedInfo, NativeStatus, StatusReport, SubmitRequest } from '../../agent/jobs/adapters/types.js';

export interface FakeJob {
  id: string;
  req: SubmitRequest;
  state: JobState;
  /** Listed by status(); false once the scheduler "forgot" it. */
  listed: boolean;
  exitCode?: number;
}

export class FakeAdapter implements Adapter {
  readonly name = 'slurm' as const;
  readonly arrayBase = 0 as const;
  readonly jobs = new Map<string, FakeJob>();
  calls = { submit: 0, status: 0, cancel: 0, describe: 0 };
  /** Make status() fail with this message (transient scheduler trouble). */
  failStatus: string | null = null;
  /** Make submit() fail with this stderr. */
  failSubmit: string | null = null;
  /** Delay of submit(), ms (to make concurrent retries overlap). */
  submitDelayMs = 0;
  finished: FinishedInfo | null = null;
  #next = 100;

  schedLogPattern(jobDir: string): string {
    return join(jobDir, 'sched', 'fake.log');
  }
  schedLogFile(jobDir: string): string {
    return join(jobDir, 'sched', 'fake.log');
  }
  async arrayLimits(): Promise<ArrayLimits> {
    return { maxIndex: 1000, maxCount: 1001 };
  }
  submitArgv(req: SubmitRequest): Argv {
    return { cmd: 'fake', args: [req.wrapperPath] };
  }
  async submit(req: SubmitRequest): Promise<string> {
    this.calls.submit++;
    if (this.submitDelayMs) await new Promise((r) => setTimeout(r, this.submitDelayMs));
    if (this.failSubmit) throw new ProtocolError('SCHEDULER', `sbatch failed: ${this.failSubmit}`, { stderr: this.failSubmit, transient: false });
    const id = String(this.#next++);
    this.jobs.set(id, { id, req, state: 'PENDING', listed: true });
    return id;
  }
  async status(ids: string[]): Promise<StatusReport> {
    this.calls.status++;
    if (this.failStatus) throw new ProtocolError('SCHEDULER', `squeue failed: ${this.failStatus}`, { transient: true });
    const entries: NativeStatus[] = [];
    for (const id of ids) {
      const j = this.jobs.get(id);
      if (!j?.listed) continue;
      const e: NativeStatus = { jobId: id, state: j.state, raw: j.state };
      if (j.exitCode !== undefined) e.exitCode = j.exitCode;
      if (j.req.indices) for (const index of j.req.indices) entries.push({ ...e, index });
      else entries.push(e);
    }
    return { entries, authoritative: true };
  }
  async cancel(ids: string[]): Promise<void> {
    this.calls.cancel++;
    for (const id of ids) {
      const j = this.jobs.get(id);
      if (j) j.state = 'CANCELLED';
    }
  }
  async describe(): Promise<FinishedInfo | null> {
    this.calls.describe++;
    return this.finished;
  }

  /** What the wrapper does on the compute node: record start / exit in the job dir. */
  run(id: string): void {
    const j = this.jobs.get(id)!;
    j.state = 'RUNNING';
    writeFileSync(join(j.req.jobDir, 'tasks', 'job.start'), JSON.stringify({ startedAt: Date.now() }));
  }
  exit(id: string, code: number, o: { forget?: boolean; signal?: string } = {}): void {
    const j = this.jobs.get(id)!;
    writeFileSync(join(j.req.jobDir, 'tasks', 'job.exit'), JSON.stringify({ exitCode: code, signal: o.signal ?? '', endedAt: Date.now() }));
    j.state = code === 0 ? 'COMPLETED' : 'FAILED';
    j.exitCode = code;
    if (o.forget) j.listed = false;
  }
}
