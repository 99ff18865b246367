/**
 * The local scheduler: the embedded default, and what a plain SSH host (no
 * batch system) gets. Each task runs the same wrapper as on a cluster, as a
 * detached process group (its own session), so it outlives the agent. Every
 * fact lives in files in the job dir, so a restarted agent picks up where the
 * last one was:
 *
 *   local.json            the queue entry (cpus, memory, time, deps, tasks)
 *   local-cancel.json     cancel request ({ tasks?: number[] } or all)
 *   tasks/<k>.local       launched: { pid, procStart, launchedAt }
 *   tasks/<k>.kill        why we killed it: cancel | timeout | oom
 *   tasks/<k>.start/.exit written by the wrapper
 *
 * Slots: a task takes `cpus` slots of `slots` (default: the CPU count).
 * Limits: time (TERM, then KILL after killGraceMs) and memory (the process
 * group's RSS, checked every second, SIGKILL above the limit: OUT_OF_MEMORY).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { JobState } from '../../protocol/index.js';
import type { NativeStatus } from './adapters/types.js';
import { decodeShellStatus } from './parse/common.js';
import { readJson, writeJsonAtomic } from './store.js';
import { taskKey } from './wrapper.js';

export interface LocalJobFile {
  id: string;
  jobDir: string;
  wrapperPath: string;
  schedLog: string;
  /** Array indices; absent for a plain job. */
  indices?: number[];
  maxConcurrent: number;
  cpus: number;
  memoryMb?: number;
  timeSec?: number;
  afterok: string[];
  afterany: string[];
  submittedAt: number;
}

interface Launch {
  pid: number;
  procStart?: string;
  launchedAt: number;
}

type KillWhy = 'cancel' | 'timeout' | 'oom';

interface TaskRt {
  key: string;
  index?: number;
  launch?: Launch;
  /** Ended (process gone); the files say how. */
  ended: boolean;
  killing?: { why: KillWhy; at: number; hard: boolean };
}

interface JobRt {
  file: LocalJobFile;
  tasks: TaskRt[];
  cancel?: { tasks?: number[]; reason?: string };
}

export interface LocalSchedulerOptions {
  /** <root>/jobs: dependency jobs are looked up here by id. */
  jobsRoot: string;
  /** CPU slots. Default $CLUSTRIX_LOCAL_SLOTS or the number of CPUs. */
  slots?: number;
  /** Milliseconds between TERM and KILL. Default 5 s. */
  killGraceMs?: number;
  /** Milliseconds between checks while work is running. Default 500 ms. */
  tickMs?: number;
  onChange?: () => void;
}

/** /proc/<pid>/stat, or null. Fields after the comm: state is [0], pgrp [2], starttime [19]. */
function procStat(pid: number): string[] | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

function alive(l: Launch): boolean {
  try {
    process.kill(l.pid, 0);
  } catch {
    return false;
  }
  const st = procStat(l.pid);
  if (!st) return false;
  if (st[0] === 'Z' || st[0] === 'X') return false;
  return l.procStart === undefined || st[19] === l.procStart;
}

/** Resident memory of a process group, bytes. */
function groupRss(pgid: number): number {
  let total = 0;
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return 0;
  }
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    const st = procStat(Number(n));
    if (!st || st[2] !== String(pgid)) continue;
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${n}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    } catch {
      /* exited meanwhile */
    }
  }
  return total;
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}

export class LocalScheduler {
  readonly slots: number;
  readonly #o: Required<Omit<LocalSchedulerOptions, 'slots' | 'onChange'>> & { onChange?: () => void };
  readonly #jobs = new Map<string, JobRt>();
  readonly #children = new Map<number, ChildProcess>();
  #timer: NodeJS.Timeout | null = null;
  #lastMemCheck = 0;
  #closed = false;

  constructor(o: LocalSchedulerOptions) {
    const env = Number(process.env.CLUSTRIX_LOCAL_SLOTS);
    this.slots = o.slots ?? (Number.isInteger(env) && env > 0 ? env : availableParallelism());
    this.#o = { jobsRoot: o.jobsRoot, killGraceMs: o.killGraceMs ?? 5000, tickMs: o.tickMs ?? 500, onChange: o.onChange };
  }

  /** Queue a job (its files are written first so a crash right after still has it). */
  submit(file: LocalJobFile): string {
    if (file.cpus > this.slots) throw new Error(`the job asks for ${file.cpus} cpus; the local scheduler has ${this.slots} slots`);
    mkdirSync(join(file.jobDir, 'tasks'), { recursive: true });
    writeJsonAtomic(join(file.jobDir, 'local.json'), file);
    this.#load(file);
    this.#kick();
    return file.id;
  }

  /** Take over a job recorded by an earlier agent (after a restart). */
  adopt(jobDir: string): void {
    const file = readJson<LocalJobFile>(join(jobDir, 'local.json'));
    if (!file || this.#jobs.has(file.id)) return;
    this.#load(file);
    this.#kick();
  }

  cancel(id: string, tasks?: number[]): void {
    const j = this.#jobs.get(id);
    const jobDir = j?.file.jobDir ?? join(this.#o.jobsRoot, id);
    const prev = readJson<{ tasks?: number[] }>(join(jobDir, 'local-cancel.json'));
    const merged = tasks === undefined || (prev && prev.tasks === undefined) ? undefined : [...new Set([...(prev?.tasks ?? []), ...tasks])];
    writeJsonAtomic(join(jobDir, 'local-cancel.json'), merged === undefined ? { at: Date.now() } : { at: Date.now(), tasks: merged });
    if (!j) return;
    j.cancel = merged === undefined ? {} : { tasks: merged };
    for (const t of j.tasks) if (this.#cancelled(j, t) && t.launch && !t.ended) this.#kill(j, t, 'cancel');
    this.#kick();
  }

  /** States of every task of these jobs (one "call"). */
  status(ids: string[]): NativeStatus[] {
    const out: NativeStatus[] = [];
    for (const id of ids) {
      const j = this.#jobs.get(id);
      if (!j) continue;
      this.#refresh(j);
      for (const t of j.tasks) out.push(this.#taskStatus(j, t));
    }
    return out;
  }

  /** The service saw the job end: drop it from memory (its files keep the outcome). */
  forget(id: string): void {
    this.#jobs.delete(id);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  get usedSlots(): number {
    let n = 0;
    for (const j of this.#jobs.values()) for (const t of j.tasks) if (t.launch && !t.ended) n += j.file.cpus;
    return n;
  }

  // -------------------------------------------------------------------------

  #load(file: LocalJobFile): void {
    const tasks: TaskRt[] = (file.indices ?? [undefined]).map((index) => {
      const key = taskKey(index);
      const t: TaskRt = { key, ended: false };
      if (index !== undefined) t.index = index;
      const launch = readJson<Launch>(join(file.jobDir, 'tasks', `${key}.local`));
      if (launch) {
        t.launch = launch;
        t.ended = existsSync(join(file.jobDir, 'tasks', `${key}.exit`)) || !alive(launch);
      }
      return t;
    });
    const j: JobRt = { file, tasks };
    const c = readJson<{ tasks?: number[]; reason?: string }>(join(file.jobDir, 'local-cancel.json'));
    if (c) j.cancel = c;
    this.#jobs.set(file.id, j);
  }

  #cancelled(j: JobRt, t: TaskRt): boolean {
    if (!j.cancel) return false;
    return j.cancel.tasks === undefined || (t.index !== undefined && j.cancel.tasks.includes(t.index));
  }

  #kick(): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#tick(), 0);
  }

  #tick(): void {
    this.#timer = null;
    const now = Date.now();
    let changed = false;
    let busy = false;
    for (const j of this.#jobs.values()) {
      if (this.#refresh(j)) changed = true;
      for (const t of j.tasks) {
        if (!t.launch || t.ended) continue;
        busy = true;
        if (t.killing && !t.killing.hard && now - t.killing.at > this.#o.killGraceMs) {
          t.killing.hard = true;
          killGroup(t.launch.pid, 'SIGKILL');
        }
        if (!t.killing && j.file.timeSec !== undefined && now - t.launch.launchedAt > j.file.timeSec * 1000) this.#kill(j, t, 'timeout');
      }
    }
    if (now - this.#lastMemCheck >= 1000) {
      this.#lastMemCheck = now;
      for (const j of this.#jobs.values()) {
        if (j.file.memoryMb === undefined) continue;
        for (const t of j.tasks) {
          if (t.launch && !t.ended && !t.killing && groupRss(t.launch.pid) > j.file.memoryMb * 1024 * 1024) this.#kill(j, t, 'oom');
        }
      }
    }
    if (this.#launchEligible()) {
      changed = true;
      busy = true;
    }
    if (changed) this.#o.onChange?.();
    const waiting = [...this.#jobs.values()].some((j) => j.tasks.some((t) => !t.launch && !this.#neverRuns(j, t)));
    if ((busy || waiting) && !this.#closed) this.#timer = setTimeout(() => this.#tick(), this.#o.tickMs);
  }

  /** Notice ended processes. Returns true if something changed. */
  #refresh(j: JobRt): boolean {
    let changed = false;
    for (const t of j.tasks) {
      if (t.launch && !t.ended && !alive(t.launch)) {
        t.ended = true;
        changed = true;
      }
    }
    return changed;
  }

  #neverRuns(j: JobRt, t: TaskRt): boolean {
    return this.#cancelled(j, t) || this.#depVerdict(j) === 'never';
  }

  /** Dependencies: 'ok' (may start), 'wait', or 'never' (an afterok dependency failed). */
  #depVerdict(j: JobRt): 'ok' | 'wait' | 'never' {
    for (const id of j.file.afterok) {
      const o = this.#outcome(id);
      if (o === 'running') return 'wait';
      if (o !== 'ok') return 'never';
    }
    for (const id of j.file.afterany) if (this.#outcome(id) === 'running') return 'wait';
    return 'ok';
  }

  /** A local job's overall outcome from its files. */
  #outcome(id: string): 'running' | 'ok' | 'failed' {
    const j = this.#jobs.get(id);
    if (j) {
      this.#refresh(j);
      const sts = j.tasks.map((t) => this.#taskStatus(j, t).state);
      if (sts.some((s) => s === 'PENDING' || s === 'RUNNING')) return 'running';
      return sts.every((s) => s === 'COMPLETED') ? 'ok' : 'failed';
    }
    const file = readJson<LocalJobFile>(join(this.#o.jobsRoot, id, 'local.json'));
    if (!file) return 'failed';
    for (const index of file.indices ?? [undefined]) {
      const key = taskKey(index);
      const exit = readJson<{ exitCode: number }>(join(file.jobDir, 'tasks', `${key}.exit`));
      const kill = existsSync(join(file.jobDir, 'tasks', `${key}.kill`));
      if (!exit && !kill) {
        const c = readJson<{ tasks?: number[] }>(join(file.jobDir, 'local-cancel.json'));
        if (c && (c.tasks === undefined || (index !== undefined && c.tasks.includes(index)))) return 'failed';
        return 'running';
      }
      if (kill || exit!.exitCode !== 0) return 'failed';
    }
    return 'ok';
  }

  #launchEligible(): boolean {
    let free = this.slots - this.usedSlots;
    let launched = false;
    const jobs = [...this.#jobs.values()].sort((a, b) => a.file.submittedAt - b.file.submittedAt || (a.file.id < b.file.id ? -1 : 1));
    for (const j of jobs) {
      if (free < j.file.cpus) break; // strict FIFO: a big job is not starved by small ones behind it
      const pending = j.tasks.filter((t) => !t.launch && !this.#cancelled(j, t));
      if (pending.length === 0) continue;
      const dep = this.#depVerdict(j);
      if (dep === 'wait') continue;
      if (dep === 'never') {
        if (!j.cancel) {
          j.cancel = { reason: 'DependencyNeverSatisfied' };
          writeJsonAtomic(join(j.file.jobDir, 'local-cancel.json'), { at: Date.now(), reason: 'DependencyNeverSatisfied' });
          launched = true;
        }
        continue;
      }
      let running = j.tasks.filter((t) => t.launch && !t.ended).length;
      for (const t of pending) {
        if (free < j.file.cpus) break;
        if (j.file.maxConcurrent > 0 && running >= j.file.maxConcurrent) break;
        this.#launch(j, t);
        free -= j.file.cpus;
        running++;
        launched = true;
      }
    }
    return launched;
  }

  #launch(j: JobRt, t: TaskRt): void {
    const { file } = j;
    const log = openSync(file.schedLog.replace('%a', t.index === undefined ? 'job' : String(t.index)), 'a', 0o600);
    let child: ChildProcess;
    try {
      child = spawn('/bin/sh', [file.wrapperPath], {
        detached: true,
        stdio: ['ignore', log, log],
        cwd: file.jobDir,
        env: { ...process.env, CLUSTRIX_LOCAL_TASK: t.index === undefined ? '' : String(t.index) },
      });
    } finally {
      closeSync(log);
    }
    const pid = child.pid;
    const launch: Launch = { pid: pid ?? -1, launchedAt: Date.now() };
    const st = pid ? procStat(pid) : null;
    if (st?.[19]) launch.procStart = st[19];
    t.launch = launch;
    writeJsonAtomic(join(file.jobDir, 'tasks', `${t.key}.local`), launch);
    if (!pid) {
      t.ended = true;
      return;
    }
    this.#children.set(pid, child);
    child.on('error', () => {});
    child.on('exit', () => {
      this.#children.delete(pid);
      t.ended = true;
      this.#o.onChange?.();
      this.#kick();
    });
    child.unref();
  }

  #kill(j: JobRt, t: TaskRt, why: KillWhy): void {
    if (!t.launch || t.ended || t.killing) return;
    writeJsonAtomic(join(j.file.jobDir, 'tasks', `${t.key}.kill`), { why, at: Date.now() });
    const hard = why === 'oom';
    t.killing = { why, at: Date.now(), hard };
    killGroup(t.launch.pid, hard ? 'SIGKILL' : 'SIGTERM');
  }

  #taskStatus(j: JobRt, t: TaskRt): NativeStatus {
    const e: NativeStatus = { jobId: j.file.id, state: 'PENDING', raw: 'queued' };
    if (t.index !== undefined) e.index = t.index;
    const dir = join(j.file.jobDir, 'tasks');
    if (t.launch) {
      e.startedAt = t.launch.launchedAt;
      if (!t.ended) {
        e.state = 'RUNNING';
        e.raw = 'running';
        return e;
      }
      // Liveness was checked first: an exit file written just before the process ended is seen.
      const exit = readJson<{ exitCode: number; signal?: string; endedAt?: number }>(join(dir, `${t.key}.exit`));
      const kill = readJson<{ why: KillWhy; at: number }>(join(dir, `${t.key}.kill`));
      e.raw = 'ended';
      if (exit) {
        Object.assign(e, decodeShellStatus(exit.exitCode));
        if (exit.endedAt) e.endedAt = exit.endedAt;
      } else {
        e.exitCode = null;
        e.endedAt = kill?.at ?? Date.now();
      }
      const byKill: Record<KillWhy, JobState> = { cancel: 'CANCELLED', timeout: 'TIMEOUT', oom: 'OUT_OF_MEMORY' };
      if (kill) {
        e.state = byKill[kill.why];
        e.reason = { cancel: 'cancelled', timeout: `time limit of ${j.file.timeSec} s reached`, oom: `memory over the ${j.file.memoryMb} MiB limit` }[kill.why];
      } else if (exit) e.state = exit.exitCode === 0 ? 'COMPLETED' : 'FAILED';
      else {
        e.state = 'FAILED';
        e.reason = 'the process ended without recording an exit status (killed?)';
      }
      return e;
    }
    if (this.#cancelled(j, t)) {
      e.state = 'CANCELLED';
      e.raw = 'cancelled';
      e.reason = j.cancel?.reason ?? 'cancelled before it started';
      return e;
    }
    const dep = this.#depVerdict(j);
    e.reason = dep === 'wait' ? 'Dependency' : j.file.maxConcurrent > 0 ? 'Resources or JobArrayTaskLimit' : 'Resources';
    return e;
  }
}
