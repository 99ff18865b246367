/**
 * The jobs service behind the handlers: submit (idempotent), get, list,
 * cancel, watch, logs, stats, and the reconciliation the poller drives.
 * State lives in the scheduler and in <root>/jobs (see store.ts), so any agent
 * on the shared root can pick up where another stopped.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import {
  isTerminal,
  ProtocolError,
  type DetectResult,
  type JobEvent,
  type JobInfo,
  type JobSpecParsed,
  type JobsStats,
  type LogsSummary,
  type SchedulerName,
  type SubmitResult,
  type TaskInfo,
} from '../../protocol/index.js';
import type { Logger } from '../log.js';
import { schedulerJobName } from './adapters/common.js';
import { ExecRunner, safeToResubmit, type Runner } from './adapters/exec.js';
import { LocalAdapter } from './adapters/local.js';
import { LsfAdapter } from './adapters/lsf.js';
import { PbsAdapter } from './adapters/pbs.js';
import { SgeAdapter } from './adapters/sge.js';
import { SlurmAdapter } from './adapters/slurm.js';
import type { Adapter, FinishedInfo, NativeStatus, SubmitRequest } from './adapters/types.js';
import { detectScheduler } from './detect.js';
import { LocalScheduler } from './local-scheduler.js';
import { Poller, type PollerOptions } from './poller.js';
import { aggregate, decideFromFiles, decideTask, type ExitRecord, type StartRecord, type TaskFacts } from './reconcile.js';
import { normalizeSpec, planArray } from './spec.js';
import { JobStore, keyHash, readJson, type Chunk, type JobRecord } from './store.js';
import { taskKey, wrapperScript } from './wrapper.js';

export interface JobServiceOptions {
  root: string;
  /** Where envs.ensure builds environments (spec.environment hashes resolve here). Default `<root>/envs`. */
  envsDir?: string;
  log: Logger;
  /** Keep the agent alive while jobs are watched (AgentServer.hold). */
  hold?: () => () => void;
  env?: NodeJS.ProcessEnv;
  home?: string;
  user?: string;
  /** Tests: a fake command runner, or whole adapters. */
  runner?: Runner;
  adapters?: Partial<Record<SchedulerName, Adapter>>;
  poller?: PollerOptions;
  local?: { slots?: number; killGraceMs?: number; tickMs?: number };
}

export interface SubmitParams {
  spec: JobSpecParsed;
  idempotencyKey: string;
  scheduler?: SchedulerName | undefined;
}

/** Files for the job dir: relative path → content. */
export type JobFiles = Record<string, Uint8Array | string>;

interface Watcher {
  ids: Set<string> | null;
  tasks: boolean;
  queue: JobEvent[];
  wake: (() => void) | null;
}

interface TaskRef {
  chunk: Chunk;
  chunkNo: number;
  /** clustrix index (arrays). */
  index?: number;
  /** native index (arrays). */
  native?: number;
}

function* tasksOf(rec: JobRecord): Generator<TaskRef> {
  if (!rec.spec.array) {
    yield { chunk: rec.chunks[0]!, chunkNo: 0 };
    return;
  }
  for (let c = 0; c < rec.chunks.length; c++) {
    const chunk = rec.chunks[c]!;
    const idx = chunk.indices ?? [];
    for (let k = 0; k < idx.length; k++) {
      const g = idx[k]!;
      yield { chunk, chunkNo: c, index: g, native: chunk.table ? (chunk.base ?? 0) + k : g - chunk.offset };
    }
  }
}

/** Last `bytes` of a file as text ('' when missing). */
export function readTail(path: string, bytes: number): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const size = statSync(path).size;
    const n = Math.min(bytes, size);
    const buf = Buffer.alloc(n);
    readSync(fd, buf, 0, n, size - n);
    return buf.toString('utf8');
  } catch {
    return '';
  } finally {
    closeSync(fd);
  }
}

/** The line of a stderr tail saying an allocation failed, if any. */
export function allocationFailure(tail: string | undefined): string | null {
  const line = tail?.split('\n').find((l) => /cannot allocate|out of memory|MemoryError|bad_alloc|memory exhausted|Cannot allocate memory/i.test(l));
  return line ? line.trim().slice(0, 300) : null;
}

function lastLines(text: string, n: number): string {
  const lines = text.replace(/\n+$/, '').split('\n');
  return lines.slice(-n).join('\n');
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

export class JobService {
  readonly store: JobStore;
  readonly poller: Poller;
  readonly local: LocalScheduler;
  readonly detected: DetectResult;
  readonly #o: JobServiceOptions;
  readonly #runner: Runner;
  readonly #home: string;
  readonly #user: string;
  readonly #adapters = new Map<SchedulerName, Adapter>();
  readonly #inflight = new Map<string, Promise<SubmitResult>>();
  readonly #watchers = new Set<Watcher>();
  /** `${id}/${task}` → when it was first missing from an authoritative listing without an exit record. */
  readonly #gone = new Map<string, number>();
  readonly #described = new Map<string, { at: number; info: FinishedInfo | null }>();
  /** Job id → until when its files are read between scheduler calls. */
  readonly #hot = new Map<string, number>();
  #statusCalls = 0;

  constructor(o: JobServiceOptions) {
    this.#o = o;
    this.store = new JobStore(o.root);
    this.#runner = o.runner ?? new ExecRunner(o.env ?? process.env);
    this.#home = o.home ?? userInfo().homedir;
    this.#user = o.user ?? userInfo().username;
    this.detected = detectScheduler(o.env ?? process.env);
    this.poller = new Poller(this, o.hold, o.poller);
    this.local = new LocalScheduler({ jobsRoot: this.store.dir, ...o.local, onChange: () => this.poller.poke(50) });
  }

  /** Pick up every job an earlier agent (or another login node's) left unfinished. */
  async recover(): Promise<number> {
    let n = 0;
    for (const id of this.store.activeIds()) {
      const rec = this.store.read(id);
      if (!rec || isTerminal(rec.state)) {
        this.store.markInactive(id);
        continue;
      }
      // Local jobs are processes on the host that ran them: only that host's agent can watch them.
      if (rec.scheduler === 'local' && rec.host !== this.store.host) continue;
      if (rec.state === 'SUBMITTING') {
        if (!this.#staleSubmit(rec)) continue;
        await this.#recoverSubmit(rec);
        if (isTerminal(rec.state)) continue;
      }
      if (rec.scheduler === 'local') this.local.adopt(this.store.jobDir(id));
      this.poller.watch(id);
      n++;
    }
    return n;
  }

  close(): void {
    this.poller.close();
    this.local.close();
    for (const w of this.#watchers) w.wake?.();
  }

  adapter(name: SchedulerName): Adapter {
    const injected = this.#o.adapters?.[name];
    if (injected) return injected;
    let a = this.#adapters.get(name);
    if (a) return a;
    switch (name) {
      case 'slurm':
        a = new SlurmAdapter(this.#runner, this.#user);
        break;
      case 'sge':
        a = new SgeAdapter(this.#runner, this.#user, (this.#o.env ?? process.env).CLUSTRIX_SGE_PE || 'smp');
        break;
      case 'pbs':
        a = new PbsAdapter(this.#runner);
        break;
      case 'lsf':
        a = new LsfAdapter(this.#runner, (p) => readTail(p, 1 << 22));
        break;
      case 'local':
        a = new LocalAdapter(this.local);
        break;
    }
    this.#adapters.set(name, a);
    return a;
  }

  // ---------------------------------------------------------------------------
  // submit

  /**
   * `files` (agent-internal, e.g. function inputs): written into the job dir,
   * relative paths, before anything reaches the scheduler.
   */
  submit(p: SubmitParams, files?: JobFiles): Promise<SubmitResult> {
    const hash = keyHash(p.idempotencyKey);
    const running = this.#inflight.get(hash);
    if (running) return running.then((r) => ({ job: r.job, existing: true }));
    const owner = this.store.keyOwner(hash);
    if (owner) return this.#existing(owner);
    const run = this.#submit(p, hash, files).finally(() => this.#inflight.delete(hash));
    this.#inflight.set(hash, run);
    return run;
  }

  async #existing(id: string): Promise<SubmitResult> {
    // Another agent may be submitting it right now: wait for it to settle (bounded).
    const deadline = Date.now() + 60_000;
    for (;;) {
      const rec = this.store.read(id);
      if (rec && rec.state !== 'SUBMITTING') return { job: this.info(rec), existing: true };
      if (rec && this.#staleSubmit(rec)) {
        await this.#recoverSubmit(rec);
        if (!isTerminal(rec.state)) this.poller.watch(rec.id);
        return { job: this.info(rec), existing: true };
      }
      if (Date.now() > deadline) {
        if (rec) return { job: this.info(rec), existing: true };
        throw new ProtocolError('CONFLICT', `the idempotency key belongs to job ${id}, whose record is missing; use a new key`);
      }
      await sleep(200);
    }
  }

  #staleSubmit(rec: JobRecord): boolean {
    if (this.#inflight.has(rec.keyHash)) return false;
    if (rec.host === this.store.host) {
      if (rec.agentPid === process.pid) return true;
      try {
        process.kill(rec.agentPid, 0);
        return Date.now() - rec.updatedAt > 10 * 60_000;
      } catch {
        return true;
      }
    }
    return Date.now() - rec.updatedAt > 10 * 60_000;
  }

  /** A submit interrupted by an agent crash: find out whether the scheduler got it. */
  async #recoverSubmit(rec: JobRecord): Promise<void> {
    for (const c of rec.chunks) {
      if (c.nativeId) continue;
      if (rec.scheduler === 'local' && existsSync(join(this.store.jobDir(rec.id), 'local.json'))) c.nativeId = rec.id;
      else if (rec.chunks.length === 1) {
        const found = await this.adapter(rec.scheduler)
          .findSubmitted?.(rec.id)
          .catch(() => null);
        if (found) c.nativeId = found;
      }
    }
    if (rec.chunks.every((c) => c.nativeId)) {
      rec.state = 'PENDING';
      rec.reason = 'recovered after the agent stopped during the submit';
    } else {
      rec.state = 'FAILED';
      rec.reason = 'the agent stopped while submitting; the scheduler may or may not have the job (look for a job named like it)';
      rec.endedAt = Date.now();
      this.store.markInactive(rec.id);
    }
    this.store.write(rec);
  }

  async #submit(p: SubmitParams, hash: string, files: JobFiles | undefined): Promise<SubmitResult> {
    const sched = p.scheduler ?? this.detected.scheduler;
    if (!this.#o.adapters?.[sched] && !this.detected.available.includes(sched)) {
      throw new ProtocolError('UNSUPPORTED', `${sched} is not available on ${this.store.host} (found: ${this.detected.available.join(', ')})`, {
        scheduler: sched,
      });
    }
    const adapter = this.adapter(sched);
    const { id, dir } = this.store.createDir();
    let rec: JobRecord;
    let deps: { afterok: string[]; afterany: string[] };
    try {
      const { spec, indices } = normalizeSpec(p.spec, { id, jobDir: dir, home: this.#home, envsDir: this.#o.envsDir ?? join(this.#o.root, 'envs') });
      deps = this.#resolveDeps(spec.dependencies, sched);
      const chunks: Chunk[] = [];
      if (indices) {
        const plan = planArray(indices, await adapter.arrayLimits(), adapter.arrayBase, adapter.rangesOnly ?? false);
        plan.forEach((pc, c) => {
          const chunk: Chunk = { indices: pc.indices, offset: pc.offset, wrapper: join(dir, c === 0 ? 'job.sh' : `job-${c}.sh`) };
          if (pc.table) {
            chunk.table = pc.table;
            chunk.base = adapter.arrayBase;
          }
          chunks.push(chunk);
        });
      } else chunks.push({ offset: 0, wrapper: join(dir, 'job.sh') });
      if (spec.script !== undefined) writeFileSync(join(dir, 'script'), spec.script, { mode: 0o700 });
      for (const [rel, data] of Object.entries(files ?? {})) {
        const path = join(dir, rel);
        if (!path.startsWith(dir + '/')) throw new ProtocolError('INTERNAL', `job file ${rel} is outside the job dir`);
        mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
        writeFileSync(path, data, { mode: 0o600 });
      }
      chunks.forEach((chunk, c) => {
        let table: { file: string; base: number } | undefined;
        if (chunk.table) {
          table = { file: join(dir, `indices-${c}`), base: chunk.base ?? 0 };
          writeFileSync(table.file, chunk.table.join('\n') + '\n', { mode: 0o600 });
        }
        const text = wrapperScript({ scheduler: sched, jobId: id, jobDir: dir, spec, offset: chunk.offset, ...(table ? { table } : {}) });
        writeFileSync(chunk.wrapper, text, { mode: 0o700 });
        chmodSync(chunk.wrapper, 0o700);
      });
      const now = Date.now();
      rec = {
        v: 1,
        id,
        keyHash: hash,
        scheduler: sched,
        spec,
        state: 'SUBMITTING',
        submittedAt: now,
        host: this.store.host,
        agentPid: process.pid,
        chunks,
        tasks: {},
        updatedAt: now,
      };
      // Translate now, so what the scheduler cannot express fails before anything is claimed or sent.
      for (const [c, chunk] of chunks.entries()) adapter.submitArgv(this.#request(rec, adapter, c, chunk, deps!));
      this.store.write(rec);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    // Marked active first: an agent dying right after the claim leaves a record the next one finds.
    this.store.markActive(id);
    const owner = this.store.claimKey(hash, id);
    if (owner !== null) {
      this.store.markInactive(id);
      rmSync(dir, { recursive: true, force: true });
      return this.#existing(owner);
    }
    try {
      for (const [c, chunk] of rec.chunks.entries()) {
        const req = this.#request(rec, adapter, c, chunk, deps);
        // Chained chunks keep maxConcurrent for the whole array.
        if (c > 0 && rec.spec.array && rec.spec.array.maxConcurrent > 0) req.afterany = [...req.afterany, rec.chunks[c - 1]!.nativeId!];
        chunk.nativeId = await this.#submitWithRetry(adapter, req);
        if (rec.chunks.length > 1) this.store.write(rec);
      }
    } catch (err) {
      const sent = rec.chunks.filter((c) => c.nativeId).map((c) => c.nativeId!);
      const e = err as ProtocolError;
      if (sent.length === 0 && !(e.details?.transient && e.code === 'SCHEDULER' && /timed out/i.test(e.message))) {
        // Nothing reached the scheduler: leave no trace, the same key may be retried.
        this.store.releaseKey(hash, id);
        this.store.markInactive(id);
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
      if (sent.length) await adapter.cancel(sent).catch(() => {});
      rec.state = 'FAILED';
      rec.reason = `submit failed${sent.length ? ` after ${sent.length} of ${rec.chunks.length} parts (those were cancelled)` : ' (outcome unknown: the scheduler may have the job)'}: ${e.message}`;
      rec.endedAt = Date.now();
      this.store.write(rec);
      this.store.markInactive(id);
      throw err;
    }
    rec.state = 'PENDING';
    this.store.write(rec);
    this.#hot.set(id, Date.now() + 60_000);
    this.poller.watch(id, true);
    this.#log().info({ job: id, scheduler: sched, native: rec.chunks.map((c) => c.nativeId) }, 'job submitted');
    return { job: this.info(rec), existing: false };
  }

  #request(rec: JobRecord, adapter: Adapter, c: number, chunk: Chunk, deps: { afterok: string[]; afterany: string[] }): SubmitRequest {
    const dir = this.store.jobDir(rec.id);
    const isArray = rec.spec.array !== undefined;
    const req: SubmitRequest = {
      id: rec.id,
      jobDir: dir,
      wrapperPath: chunk.wrapper,
      spec: rec.spec,
      schedName: schedulerJobName(rec.spec.name),
      maxConcurrent: rec.spec.array?.maxConcurrent ?? 0,
      afterok: deps.afterok,
      afterany: deps.afterany,
      schedLog: adapter.schedLogPattern(dir, isArray, c),
    };
    if (isArray) req.indices = chunk.table ? chunk.table.map((_, k) => (chunk.base ?? 0) + k) : chunk.indices!.map((g) => g - chunk.offset);
    return req;
  }

  async #submitWithRetry(adapter: Adapter, req: SubmitRequest): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await adapter.submit(req);
      } catch (err) {
        const e = err as ProtocolError;
        // Only when the scheduler certainly never got it (connection refused…): never a duplicate.
        if (attempt < 3 && e.code === 'SCHEDULER' && safeToResubmit(String(e.details?.stderr ?? e.message))) {
          await sleep(1000 * 2 ** attempt);
          continue;
        }
        throw err;
      }
    }
  }

  /** Dependencies name clustrix ids (or native ids of the same scheduler). */
  #resolveDeps(d: { afterok: string[]; afterany: string[] }, sched: SchedulerName): { afterok: string[]; afterany: string[] } {
    const out = { afterok: [] as string[], afterany: [] as string[] };
    for (const kind of ['afterok', 'afterany'] as const) {
      for (const ref of d[kind]) {
        const rec = this.store.read(ref);
        if (!rec) {
          if (sched !== 'local' && /^\d+(\[\])?(\.[\w.-]+)?$/.test(ref)) {
            out[kind].push(ref); // a native id of a job submitted outside clustrix
            continue;
          }
          throw new ProtocolError('NOT_FOUND', `jobs.submit: params.spec.dependencies.${kind}: no job ${ref}`, { id: ref });
        }
        if (rec.scheduler !== sched)
          throw new ProtocolError('INVALID_PARAMS', `jobs.submit: params.spec.dependencies.${kind}: job ${ref} runs on ${rec.scheduler}, this one on ${sched}`);
        if (isTerminal(rec.state)) {
          if (kind === 'afterany' || rec.state === 'COMPLETED') continue; // already satisfied
          throw new ProtocolError(
            'CONFLICT',
            `jobs.submit: params.spec.dependencies.afterok: job ${ref} already ended ${rec.state}; afterok can never be satisfied`,
            {
              id: ref,
              state: rec.state,
            },
          );
        }
        if (rec.state === 'SUBMITTING') throw new ProtocolError('CONFLICT', `jobs.submit: dependency ${ref} is still being submitted; retry`);
        out[kind].push(...rec.chunks.map((c) => c.nativeId!).filter(Boolean));
      }
    }
    return out;
  }

  // ---------------------------------------------------------------------------
  // get / list / cancel

  /** A record by clustrix id, or by native id ("1234" or "slurm:1234"). */
  find(ref: string): JobRecord | null {
    const rec = this.store.read(ref);
    if (rec) return rec;
    const m = /^(?:(slurm|sge|pbs|lsf|local):)?(.+)$/.exec(ref)!;
    let seen = 0;
    for (const id of this.store.ids()) {
      if (++seen > 20_000) break;
      const r = this.store.read(id);
      if (r && (!m[1] || r.scheduler === m[1]) && r.chunks.some((c) => c.nativeId === m[2])) return r;
    }
    return null;
  }

  mustFind(ref: string): JobRecord {
    const rec = this.find(ref);
    if (!rec) throw new ProtocolError('NOT_FOUND', `no job ${ref}`, { id: ref });
    return rec;
  }

  async get(ref: string, refresh: boolean): Promise<JobInfo> {
    let rec = this.mustFind(ref);
    if (refresh && !isTerminal(rec.state)) {
      await this.poller.pollNow();
      rec = this.mustFind(rec.id);
    }
    return this.info(rec, true);
  }

  list(p: { which: 'active' | 'terminal' | 'all'; states?: string[] | undefined; limit: number; since?: number | undefined }): JobInfo[] {
    const ids = p.which === 'active' ? this.store.activeIds().sort().reverse() : this.store.ids();
    const out: JobInfo[] = [];
    for (const id of ids) {
      const rec = this.store.read(id);
      if (!rec) continue;
      if (p.since !== undefined && rec.submittedAt < p.since) {
        if (p.which !== 'active') break; // ids sort by submission time
        continue;
      }
      const term = isTerminal(rec.state);
      if ((p.which === 'active' && term) || (p.which === 'terminal' && !term)) continue;
      if (p.states && !p.states.includes(rec.state)) continue;
      out.push(this.info(rec));
      if (out.length >= p.limit) break;
    }
    return out;
  }

  async cancel(ref: string, tasks?: number[]): Promise<JobInfo> {
    const rec = this.mustFind(ref);
    if (isTerminal(rec.state)) return this.info(rec);
    if (rec.state === 'SUBMITTING') throw new ProtocolError('CONFLICT', `job ${rec.id} is still being submitted; cancel it once it is queued`);
    if (tasks && !rec.spec.array) throw new ProtocolError('INVALID_PARAMS', `jobs.cancel: params.tasks: job ${rec.id} is not an array`);
    const adapter = this.adapter(rec.scheduler);
    rec.cancelRequestedAt = Date.now();
    if (tasks) {
      const want = new Set(tasks);
      rec.cancelTasks = [...new Set([...(rec.cancelTasks ?? []), ...tasks])].sort((a, b) => a - b);
      const byChunk = new Map<number, number[]>();
      for (const t of tasksOf(rec)) if (t.index !== undefined && want.has(t.index)) byChunk.set(t.chunkNo, [...(byChunk.get(t.chunkNo) ?? []), t.native!]);
      this.store.write(rec);
      for (const [c, native] of byChunk) await adapter.cancel([], { jobId: rec.chunks[c]!.nativeId!, indices: native });
    } else {
      delete rec.cancelTasks;
      this.store.write(rec);
      await adapter.cancel(rec.chunks.map((c) => c.nativeId!).filter(Boolean));
    }
    this.#log().info({ job: rec.id, tasks }, 'job cancel requested');
    this.poller.watch(rec.id, true);
    return this.info(rec);
  }

  // ---------------------------------------------------------------------------
  // polling and reconciliation

  /** Jobs submitted in the last minute or waited on by a client: their files are read between scheduler calls. */
  hotIds(): string[] {
    const now = Date.now();
    const out = new Set<string>();
    for (const [id, until] of this.#hot)
      if (until > now) out.add(id);
      else this.#hot.delete(id);
    for (const w of this.#watchers) if (w.ids) for (const id of w.ids) out.add(id);
    return [...out];
  }

  async pollFiles(ids: string[]): Promise<void> {
    const events: JobEvent[] = [];
    for (const id of ids) {
      const rec = this.store.read(id);
      if (!rec || isTerminal(rec.state) || rec.state === 'SUBMITTING') continue;
      events.push(...(await this.#reconcile(rec, this.adapter(rec.scheduler), null, false)));
    }
    if (events.length) this.#emit(events);
  }

  async pollOnce(ids: string[]): Promise<{ changed: boolean; failed: boolean }> {
    const bySched = new Map<SchedulerName, JobRecord[]>();
    for (const id of ids) {
      const rec = this.store.read(id);
      if (!rec || isTerminal(rec.state)) {
        this.poller.unwatch(id);
        if (rec) this.store.markInactive(id);
        continue;
      }
      if (rec.state === 'SUBMITTING') continue;
      bySched.set(rec.scheduler, [...(bySched.get(rec.scheduler) ?? []), rec]);
    }
    let changed = false;
    let failed = false;
    for (const [sched, recs] of bySched) {
      const adapter = this.adapter(sched);
      const nativeIds = [...new Set(recs.flatMap((r) => r.chunks.map((c) => c.nativeId!).filter(Boolean)))];
      let report: { entries: NativeStatus[]; authoritative: boolean };
      try {
        this.#statusCalls++;
        report = await adapter.status(nativeIds);
      } catch (err) {
        failed = true;
        this.#log().warn({ scheduler: sched, err: (err as Error).message }, 'status call failed; keeping job states, backing off');
        continue;
      }
      const byKey = new Map<string, NativeStatus>();
      for (const e of report.entries) byKey.set(`${e.jobId}#${e.index ?? ''}`, e);
      for (const rec of recs) {
        try {
          const events = await this.#reconcile(rec, adapter, byKey, report.authoritative);
          if (events.length) {
            changed = true;
            this.#emit(events);
          }
        } catch (err) {
          this.#log().error({ job: rec.id, err: (err as Error).stack }, 'reconcile failed');
        }
      }
    }
    return { changed, failed };
  }

  /** `byKey` null: files only (decideFromFiles), no scheduler facts. */
  async #reconcile(rec: JobRecord, adapter: Adapter, byKey: Map<string, NativeStatus> | null, authoritative: boolean): Promise<JobEvent[]> {
    const now = Date.now();
    const dir = this.store.jobDir(rec.id);
    let names: Set<string>;
    try {
      names = new Set(readdirSync(join(dir, 'tasks')));
    } catch {
      names = new Set();
    }
    const taskEvents: JobEvent[] = [];
    const changedTasks: TaskInfo[] = [];
    for (const t of tasksOf(rec)) {
      const key = taskKey(t.index);
      const prev: TaskInfo = rec.tasks[key] ?? (t.index === undefined ? { state: 'PENDING' } : { state: 'PENDING', index: t.index });
      if (isTerminal(prev.state)) continue;
      if (!byKey && !names.has(`${key}.exit`) && !(prev.state === 'PENDING' && names.has(`${key}.start`))) continue;
      const native = t.chunk.nativeId && byKey ? byKey.get(`${t.chunk.nativeId}#${t.native ?? ''}`) : undefined;
      const facts: TaskFacts = { prev, authoritative, cancelRequested: this.#cancelRequested(rec, t.index), now };
      if (native) facts.native = native;
      if (rec.spec.resources.timeSec !== undefined) facts.timeSec = rec.spec.resources.timeSec;
      if (names.has(`${key}.start`)) facts.start = readJson<StartRecord>(join(dir, 'tasks', `${key}.start`));
      if (names.has(`${key}.exit`)) facts.exit = readJson<ExitRecord>(join(dir, 'tasks', `${key}.exit`));
      const gk = `${rec.id}/${key}`;
      if (!byKey) {
        const d = decideFromFiles(facts);
        if (!d || (d.state === prev.state && d.startedAt === prev.startedAt)) continue;
        rec.tasks[key] = d;
        changedTasks.push(d);
        if (rec.spec.array && d.state !== prev.state)
          taskEvents.push({ id: rec.id, state: d.state, previous: prev.state, task: t.index!, at: now, job: undefined as never });
        continue;
      }
      if (!native && authoritative && !facts.exit) {
        if (!this.#gone.has(gk)) this.#gone.set(gk, now);
        facts.goneForMs = now - this.#gone.get(gk)!;
      }
      let d = decideTask(facts);
      for (let i = 0; i < 4 && typeof d === 'string'; i++) {
        if (d === 'schedlog') facts.schedLog = readTail(adapter.schedLogFile(dir, t.chunkNo, t.chunk.nativeId ?? '', t.native), 16_384);
        else if (d === 'describe') facts.finished = await this.#describe(adapter, gk, t);
        else break;
        d = decideTask(facts);
      }
      if (d === null || typeof d === 'string') continue;
      if (d.state === prev.state && d.reason === prev.reason && d.startedAt === prev.startedAt && d.exitCode === prev.exitCode) continue;
      rec.tasks[key] = d;
      changedTasks.push(d);
      if (isTerminal(d.state)) {
        this.#gone.delete(gk);
        this.#described.delete(gk);
      }
      if (rec.spec.array && d.state !== prev.state)
        taskEvents.push({ id: rec.id, state: d.state, previous: prev.state, task: t.index!, at: now, job: undefined as never });
    }
    if (changedTasks.length === 0) return [];
    const before = rec.state;
    const total = rec.spec.array?.count ?? 1;
    const agg = aggregate(total, Object.values(rec.tasks), rec.cancelRequestedAt !== undefined && rec.cancelTasks === undefined);
    rec.state = agg.state;
    for (const k of ['reason', 'exitCode', 'signal', 'startedAt', 'endedAt'] as const) {
      if (agg[k] !== undefined) (rec as unknown as Record<string, unknown>)[k] = agg[k];
      else if (k !== 'startedAt') delete rec[k];
    }
    if (isTerminal(rec.state)) {
      const tail = this.#stderrTail(rec, adapter);
      if (tail) rec.stderrTail = tail;
      // A memory limit enforced as an rlimit (SGE h_vmem, LSF -M on some sites) is not a kill:
      // the program's allocation fails. Its own message is the evidence.
      const oom = rec.state === 'FAILED' && rec.spec.resources.memoryMb !== undefined ? allocationFailure(tail) : null;
      if (oom) {
        rec.state = 'OUT_OF_MEMORY';
        rec.reason = `${oom} (under a ${rec.spec.resources.memoryMb} MiB limit)`;
      }
      this.store.markInactive(rec.id);
      this.poller.unwatch(rec.id);
      if (rec.scheduler === 'local') this.local.forget(rec.id);
      this.#log().info({ job: rec.id, state: rec.state, exitCode: rec.exitCode, reason: rec.reason }, 'job ended');
    }
    this.store.write(rec);
    const info = this.info(rec);
    const events = taskEvents.map((e) => ({ ...e, job: info }));
    if (rec.state !== before) events.push({ id: rec.id, state: rec.state, previous: before, at: now, job: info });
    return events;
  }

  async #describe(adapter: Adapter, gk: string, t: TaskRef): Promise<FinishedInfo | null> {
    const c = this.#described.get(gk);
    if (c && (c.info || Date.now() - c.at < 5000)) return c.info;
    let info: FinishedInfo | null = null;
    if (t.chunk.nativeId) info = await adapter.describe(t.chunk.nativeId, t.native).catch(() => null);
    this.#described.set(gk, { at: Date.now(), info });
    return info;
  }

  #cancelRequested(rec: JobRecord, index?: number): boolean {
    if (rec.cancelRequestedAt === undefined) return false;
    return rec.cancelTasks === undefined || (index !== undefined && rec.cancelTasks.includes(index));
  }

  /** The last lines of the failing task's stderr, and the scheduler's own complaints. */
  #stderrTail(rec: JobRecord, adapter: Adapter): string | undefined {
    if (rec.state === 'COMPLETED') return undefined;
    const bad = Object.values(rec.tasks).find((t) => t.state === rec.state) ?? Object.values(rec.tasks)[0];
    const ref = [...tasksOf(rec)].find((t) => t.index === bad?.index);
    const path = bad?.index === undefined ? rec.spec.stderr : rec.spec.stderr.split('{task}').join(String(bad.index));
    const parts: string[] = [];
    const err = lastLines(readTail(path, 4096), 20);
    if (err.trim()) parts.push(err);
    if (ref?.chunk.nativeId) {
      const log = readTail(adapter.schedLogFile(this.store.jobDir(rec.id), ref.chunkNo, ref.chunk.nativeId, ref.native), 8192)
        .split('\n')
        .filter((l) => /error|killed|cancel|limit|memory|oom|fail|denied|not found|no such/i.test(l))
        .slice(-5);
      if (log.length) parts.push(log.join('\n'));
    }
    return parts.length ? parts.join('\n') : undefined;
  }

  // ---------------------------------------------------------------------------
  // watch / logs / stats

  #emit(events: JobEvent[]): void {
    for (const w of this.#watchers) {
      let added = false;
      for (const e of events) {
        if ((w.ids && !w.ids.has(e.id)) || (e.task !== undefined && !w.tasks)) continue;
        w.queue.push(e);
        added = true;
      }
      // A consumer that stopped reading: keep the newest 10 000 events.
      if (w.queue.length > 10_000) w.queue.splice(0, w.queue.length - 10_000);
      if (added) {
        const wake = w.wake;
        w.wake = null;
        wake?.();
      }
    }
  }

  async watch(
    p: { ids?: string[] | undefined; untilDone: boolean; tasks: boolean },
    send: (events: JobEvent[]) => Promise<void>,
    signal: AbortSignal,
  ): Promise<{ events: number }> {
    const recs = p.ids
      ? p.ids.map((id) => this.mustFind(id))
      : this.poller
          .ids()
          .map((id) => this.store.read(id))
          .filter((r): r is JobRecord => r !== null);
    const w: Watcher = { ids: p.ids ? new Set(recs.map((r) => r.id)) : null, tasks: p.tasks, queue: [], wake: null };
    this.#watchers.add(w);
    const remaining = new Set(recs.filter((r) => !isTerminal(r.state)).map((r) => r.id));
    let count = 0;
    try {
      const now = Date.now();
      const snapshot: JobEvent[] = recs.map((r) => ({ id: r.id, state: r.state, at: now, job: this.info(r) }));
      await send(snapshot);
      count += snapshot.length;
      for (;;) {
        if (p.untilDone && p.ids && remaining.size === 0) break;
        if (w.queue.length === 0) {
          await new Promise<void>((resolve) => {
            w.wake = resolve;
            signal.addEventListener('abort', () => resolve(), { once: true });
          });
        }
        if (signal.aborted) throw new ProtocolError('CANCELLED', 'jobs.watch cancelled');
        const batch = w.queue.splice(0, 1000);
        for (const e of batch) if (e.task === undefined && isTerminal(e.state)) remaining.delete(e.id);
        if (batch.length) {
          await send(batch);
          count += batch.length;
        }
      }
      return { events: count };
    } finally {
      this.#watchers.delete(w);
    }
  }

  async logs(
    p: { id: string; stream: 'stdout' | 'stderr'; task?: number | undefined; offset: number; tail?: number | undefined; follow: boolean },
    send: (chunk: Uint8Array) => Promise<void>,
    ctx: { signal: AbortSignal; chunkBytes: number },
  ): Promise<LogsSummary> {
    let rec = this.mustFind(p.id);
    const index = p.task ?? (rec.spec.array ? Number(rec.spec.array.indices.split(/[-,:]/)[0]) : undefined);
    if (p.task !== undefined && !rec.spec.array) throw new ProtocolError('INVALID_PARAMS', `jobs.logs: params.task: job ${rec.id} is not an array`);
    const template = p.stream === 'stderr' ? rec.spec.stderr : rec.spec.stdout;
    const path = index === undefined ? template : template.split('{task}').join(String(index));
    const key = taskKey(index);
    let offset = p.offset;
    let first = true;
    let bytes = 0;
    let finalPass = false;
    for (;;) {
      let size = -1;
      try {
        size = statSync(path).size;
      } catch (err) {
        if (!p.follow) throw err;
      }
      if (size >= 0) {
        if (first && p.tail !== undefined) offset = Math.max(0, size - p.tail);
        first = false;
        if (size < offset) offset = size; // truncated (rerun): follow from its end
        if (offset < size) {
          const fd = openSync(path, 'r');
          try {
            while (offset < size && !ctx.signal.aborted) {
              const buf = Buffer.alloc(Math.min(ctx.chunkBytes, size - offset));
              const n = readSync(fd, buf, 0, buf.length, offset);
              if (n <= 0) break;
              await send(buf.subarray(0, n));
              offset += n;
              bytes += n;
            }
          } finally {
            closeSync(fd);
          }
        }
      }
      if (!p.follow || finalPass || ctx.signal.aborted) break;
      rec = this.store.read(rec.id) ?? rec;
      const task = rec.tasks[key];
      if (isTerminal(rec.state) || (task && isTerminal(task.state))) {
        finalPass = true; // one more read: the last bytes may land after the state
        await sleep(200, ctx.signal);
        continue;
      }
      await sleep(500, ctx.signal);
    }
    if (ctx.signal.aborted) throw new ProtocolError('CANCELLED', 'jobs.logs cancelled');
    return { bytes, offset, path };
  }

  stats(): JobsStats {
    const calls: Record<string, number> = {};
    const runnerCalls = (this.#runner as Partial<ExecRunner>).calls ?? {};
    for (const [k, v] of Object.entries(runnerCalls)) calls[k] = v;
    const local = this.#adapters.get('local') as LocalAdapter | undefined;
    for (const [k, v] of Object.entries(local?.calls ?? {})) calls[`local.${k}`] = v;
    return {
      calls,
      statusCalls: this.#statusCalls,
      watched: this.poller.watched,
      intervalMs: this.poller.intervalMs,
      polls: this.poller.polls,
      failures: this.poller.failures,
      detected: this.detected.scheduler,
    };
  }

  // ---------------------------------------------------------------------------

  info(rec: JobRecord, detail = false): JobInfo {
    const j: JobInfo = {
      id: rec.id,
      name: rec.spec.name,
      scheduler: rec.scheduler,
      nativeIds: rec.chunks.map((c) => c.nativeId).filter((x): x is string => !!x),
      state: rec.state,
      submittedAt: rec.submittedAt,
      host: rec.host,
      workdir: rec.spec.workdir,
      stdout: rec.spec.stdout,
      stderr: rec.spec.stderr,
    };
    if (rec.reason !== undefined) j.reason = rec.reason;
    if (rec.exitCode !== undefined) j.exitCode = rec.exitCode;
    if (rec.signal !== undefined) j.signal = rec.signal;
    if (rec.startedAt !== undefined) j.startedAt = rec.startedAt;
    if (rec.endedAt !== undefined) j.endedAt = rec.endedAt;
    if (rec.stderrTail !== undefined) j.stderrTail = rec.stderrTail;
    if (rec.cancelRequestedAt !== undefined) j.cancelRequested = true;
    if (rec.spec.array) {
      j.array = rec.spec.array;
      j.tasks = aggregate(rec.spec.array.count, Object.values(rec.tasks), false).counts;
    }
    if (detail) {
      j.spec = rec.spec;
      if (rec.spec.array) j.taskStates = Object.values(rec.tasks).filter((t) => t.state !== 'PENDING');
    }
    return j;
  }

  #log(): Logger {
    return this.#o.log;
  }
}
