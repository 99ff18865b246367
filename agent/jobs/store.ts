/**
 * Job records on the shared root, safe on NFS/GPFS without flock:
 *
 *   <root>/jobs/<id>/job.json     the record; replaced atomically (temp file + rename)
 *   <root>/jobs/.keys/<sha256>    idempotency key → job id; created with link(2),
 *                                 which fails if the name exists: exactly one
 *                                 submitter (on any login node) wins a key
 *   <root>/jobs/.active/<id>      empty marker while a job is not terminal, so a
 *                                 restarting agent reads only those records
 *
 * Ids are sortable by submission time: base-36 milliseconds + 4 random chars.
 */
import { createHash, randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { JobState, NormalizedJobSpec, SchedulerName, TaskInfo } from '../../protocol/index.js';

export function readJson<T>(path: string): T | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return null;
  }
}

export { writeFileAtomic, writeJsonAtomic } from '../atomic-file.js';
import { writeJsonAtomic } from '../atomic-file.js';

/** One submission of a job: a plain job, or one chunk of a (split) array. */
export interface Chunk {
  /** Native id, once submitted. */
  nativeId?: string;
  /** Clustrix indices of this chunk (arrays). */
  indices?: number[];
  /** clustrix index = native index + offset (when no table). */
  offset: number;
  /** Native index (from `base`) → clustrix index table, when the chunk is not a shifted range. */
  table?: number[];
  base?: number;
  wrapper: string;
}

/** What job.json holds. */
export interface JobRecord {
  v: 1;
  id: string;
  /** sha256 of the idempotency key. */
  keyHash: string;
  scheduler: SchedulerName;
  spec: NormalizedJobSpec;
  state: JobState;
  reason?: string;
  exitCode?: number | null;
  signal?: string | null;
  submittedAt: number;
  startedAt?: number;
  endedAt?: number;
  host: string;
  /** Pid of the agent that created it (to tell a stale SUBMITTING record from one in progress). */
  agentPid: number;
  chunks: Chunk[];
  /** Task states by key ("job" or the array index), for tasks that left PENDING or carry a reason. */
  tasks: Record<string, TaskInfo>;
  cancelRequestedAt?: number;
  /** Array tasks asked to be cancelled; absent = the whole job. */
  cancelTasks?: number[];
  stderrTail?: string;
  updatedAt: number;
}

export function newJobId(now = Date.now()): string {
  const rand = randomBytes(4).readUInt32BE(0).toString(36).padStart(7, '0').slice(-4);
  return now.toString(36) + rand;
}

export function keyHash(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export class JobStore {
  readonly dir: string;
  readonly #keys: string;
  readonly #active: string;
  readonly host = hostname();
  /** Records by id, with the mtime they were read at (another agent may rewrite them). */
  readonly #cache = new Map<string, { rec: JobRecord; mtimeMs: number }>();

  constructor(root: string) {
    this.dir = join(root, 'jobs');
    this.#keys = join(this.dir, '.keys');
    this.#active = join(this.dir, '.active');
    mkdirSync(this.#keys, { recursive: true, mode: 0o700 });
    mkdirSync(this.#active, { recursive: true, mode: 0o700 });
  }

  jobDir(id: string): string {
    return join(this.dir, id);
  }

  /** Create a fresh, empty job dir (mkdir fails on a collision: pick another id). */
  createDir(): { id: string; dir: string } {
    for (;;) {
      const id = newJobId();
      const dir = this.jobDir(id);
      try {
        mkdirSync(dir, { mode: 0o700 });
        for (const d of ['tasks', 'sched']) mkdirSync(join(dir, d), { mode: 0o700 });
        return { id, dir };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
  }

  /**
   * Claim an idempotency key for `id`. Returns null when we won, or the id of
   * the job that already holds the key.
   */
  claimKey(hash: string, id: string): string | null {
    const path = join(this.#keys, hash);
    const tmp = `${path}.tmp.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(tmp, id, { mode: 0o600 });
    try {
      linkSync(tmp, path);
      return null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return this.keyOwner(hash) ?? '';
    } finally {
      try {
        unlinkSync(tmp);
      } catch {
        /* gone */
      }
    }
  }

  /** Give a key back (the submit it guarded never reached the scheduler). Only if it is still ours. */
  releaseKey(hash: string, id: string): void {
    if (this.keyOwner(hash) === id) {
      try {
        unlinkSync(join(this.#keys, hash));
      } catch {
        /* gone */
      }
    }
  }

  markActive(id: string): void {
    writeFileSync(join(this.#active, id), '');
  }

  markInactive(id: string): void {
    try {
      unlinkSync(join(this.#active, id));
    } catch {
      /* not marked */
    }
  }

  activeIds(): string[] {
    try {
      return readdirSync(this.#active).filter((n) => !n.includes('.tmp.'));
    } catch {
      return [];
    }
  }

  keyOwner(hash: string): string | null {
    try {
      return readFileSync(join(this.#keys, hash), 'utf8').trim() || null;
    } catch {
      return null;
    }
  }

  write(rec: JobRecord): void {
    rec.updatedAt = Date.now();
    const path = join(this.jobDir(rec.id), 'job.json');
    writeJsonAtomic(path, rec);
    let mtimeMs = 0;
    try {
      mtimeMs = statSync(path).mtimeMs;
    } catch {
      /* raced with a removal */
    }
    this.#cache.set(rec.id, { rec, mtimeMs });
  }

  read(id: string): JobRecord | null {
    if (!/^[\w.-]+$/.test(id)) return null;
    const path = join(this.jobDir(id), 'job.json');
    let mtimeMs: number;
    try {
      mtimeMs = statSync(path).mtimeMs;
    } catch {
      this.#cache.delete(id);
      return null;
    }
    const c = this.#cache.get(id);
    if (c && c.mtimeMs === mtimeMs) return c.rec;
    const rec = readJson<JobRecord>(path);
    if (rec) this.#cache.set(id, { rec, mtimeMs });
    return rec;
  }

  /** Every job id, newest first. */
  ids(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    return names.filter((n) => !n.startsWith('.')).sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
  }
}
