/**
 * The end-to-end jobs suite, run as is against real Slurm, real Grid Engine
 * and the local scheduler. What differs per scheduler (how to read what it
 * recorded, which dependency kind it can express, how it enforces limits) is
 * passed in; the behaviours asserted are the same.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Cluster } from '../../client/cluster.js';
import type { JobSpec } from '../../client/jobs.js';
import type { JobInfo, SchedulerName } from '../../protocol/index.js';
import { until } from './support.js';

/** What the scheduler itself recorded for a job (read with its own commands). */
export interface Recorded {
  cpus?: number;
  memoryMb?: number;
  timeSec?: number;
  partition?: string;
  /** Native array task ids the scheduler knows for the job. */
  arrayTasks?: number[];
  state?: string;
  exitCode?: number;
}

export interface Bed {
  scheduler: SchedulerName;
  connect(): Promise<Cluster>;
  /** kill -9 the agent, then start a new one. */
  killAndRestart(): Promise<{ oldPid: number; newPid: number }>;
  /** Read what the scheduler recorded (after the job ended). */
  recorded(job: JobInfo): Promise<Recorded>;
  /** The dependency of a pending job as the scheduler shows it. */
  dependencyOf(job: JobInfo): Promise<string>;
  /** How many scheduler jobs carry this (sanitized) name right now. */
  countByName(name: string): Promise<number>;
  /** A path the agent user can write, for workdirs and outputs. */
  scratch: string;
  cleanup(): Promise<void>;
}

export interface SuiteOptions {
  setup(): Promise<Bed>;
  /** What to ask for, and what the scheduler should then record. */
  resources: { cpus: number; memory: string; time: string; partition?: string };
  expectRecorded: Recorded;
  /** Native ids the array 0-3 becomes (SGE starts at 1). */
  arrayNative: number[];
  dependency: 'afterok' | 'afterany';
  /** Time limit test: the limit to set and how long to wait for the kill. */
  timeLimit: { time: number | string; waitMs: number; sleepSec: number };
  /** Memory test: enforced, or why not. */
  memory: { enforced: true; memory: string; expect: JobInfo['state'] } | { enforced: false; why: string };
}

export function defineJobSuite(o: SuiteOptions): void {
  let bed: Bed;
  let c: Cluster;
  let timeLimited: { id: string; submittedAt: number } | null = null;
  const sched = () => bed.scheduler;
  const submit = (spec: JobSpec, key?: string) => c.jobs.submit(spec, { scheduler: sched(), ...(key ? { idempotencyKey: key } : {}) });

  beforeAll(async () => {
    bed = await o.setup();
    c = await bed.connect();
  });

  // The time-limit job starts early (after the job that needs every CPU): on Slurm its kill
  // takes 60-90 s, which the other tests overlap.
  const startTimeLimited = async () => {
    const j = await submit({ command: ['sleep', String(o.timeLimit.sleepSec)], name: 'timelimit', resources: { time: o.timeLimit.time } });
    timeLimited = { id: j.id, submittedAt: Date.now() };
  };

  afterAll(async () => {
    // Leave nothing queued or running for the next suite.
    if (c && !c.connection.closed) for (const j of await c.jobs.list({ which: 'active', limit: 10_000 })) await c.jobs.cancel(j.id).catch(() => {});
    await c?.close();
    await bed?.cleanup();
  });

  it('submits with resources, and the scheduler records them', async () => {
    const r = o.resources;
    const job = await submit({
      command: ['sh', '-c', 'echo started on $(hostname)'],
      name: 'resources',
      resources: { cpus: r.cpus, memory: r.memory, time: r.time, ...(r.partition ? { partition: r.partition } : {}) },
    });
    expect(job.existing).toBe(false);
    expect(job.info?.nativeIds).toHaveLength(1);
    const done = await job.wait({ timeoutMs: 60_000 });
    expect(done.state).toBe('COMPLETED');
    expect(done.exitCode).toBe(0);
    expect(await job.logs().text()).toMatch(/^started on /);
    expect(await bed.recorded(done)).toMatchObject(o.expectRecorded);
    await startTimeLimited();
  }, 90_000);

  it('runs an array: every task sees its own index, the scheduler recorded the range', async () => {
    const job = await submit({
      command: ['sh', '-c', 'echo "task $CLUSTRIX_TASK_ID of $CLUSTRIX_JOB_ID"'],
      name: 'arr',
      array: { indices: '0-3', maxConcurrent: 2 },
    });
    const done = await job.wait({ timeoutMs: 90_000 });
    expect(done.state).toBe('COMPLETED');
    expect(done.array).toEqual({ indices: '0-3', count: 4, maxConcurrent: 2 });
    expect(done.tasks).toEqual({ COMPLETED: 4 });
    for (const t of [0, 1, 2, 3]) expect((await job.logs({ task: t }).text()).trim()).toBe(`task ${t} of ${job.id}`);
    expect((await bed.recorded(done)).arrayTasks).toEqual(o.arrayNative);
  }, 100_000);

  it(`starts a job only after its ${o.dependency} dependency ended`, async () => {
    const first = await submit({ command: ['sh', '-c', 'sleep 2; echo first'], name: 'first' });
    const second = await submit({ command: ['sh', '-c', 'echo second'], name: 'second', dependencies: { [o.dependency]: [first.id] } });
    const ev = await second.refresh();
    expect(ev.state).toBe('PENDING');
    // While it waits, the scheduler holds the dependency on the first job's id.
    expect(await bed.dependencyOf(ev)).toContain(first.info!.nativeIds[0]!);
    const [a, b] = await Promise.all([first.wait({ timeoutMs: 60_000 }), second.wait({ timeoutMs: 90_000 })]);
    expect(a.state).toBe('COMPLETED');
    expect(b.state).toBe('COMPLETED');
    expect(b.startedAt!).toBeGreaterThanOrEqual(a.endedAt! - 1000);
  }, 100_000);

  it('cancels a pending job and a running one', async () => {
    const sleeper = await submit({ command: ['sleep', '120'], name: 'sleeper' });
    await until('the sleeper to run', async () => (await sleeper.refresh()).state === 'RUNNING', 60_000);
    const waiting = await submit({ command: ['echo', 'never'], name: 'waiting', dependencies: { afterany: [sleeper.id] } });
    expect((await waiting.refresh()).state).toBe('PENDING');
    await waiting.cancel();
    const w = await waiting.wait({ timeoutMs: 60_000 });
    expect(w.state).toBe('CANCELLED');
    expect(w.startedAt).toBeUndefined();
    await sleeper.cancel();
    const s = await sleeper.wait({ timeoutMs: 60_000 });
    expect(s.state).toBe('CANCELLED');
    expect(s.startedAt).toBeDefined();
    // Cancelling again is not an error: it answers the final state.
    expect((await sleeper.cancel()).state).toBe('CANCELLED');
  });

  it('reports exit code 3 with the tail of stderr', async () => {
    const job = await submit({ command: ['sh', '-c', 'echo going to fail; echo oops >&2; exit 3'], name: 'exit3' });
    const done = await job.wait({ timeoutMs: 60_000 });
    expect(done).toMatchObject({ state: 'FAILED', exitCode: 3, signal: null });
    expect(done.stderrTail).toContain('oops');
    expect((await job.logs().text()).trim()).toBe('going to fail');
    const rec = await bed.recorded(done);
    if (rec.exitCode !== undefined) expect(rec.exitCode).toBe(3);
  });

  it('streams the JSON lines a running job appends to $CLUSTRIX_EVENTS before it ends, and gives it node-local scratch', async () => {
    const go = `${bed.scratch}/go-${randomUUID()}`;
    await c.fs.mkdir(bed.scratch);
    const job = await submit({
      name: 'progress',
      script: [
        '#!/bin/sh',
        'echo \'{"step":1}\' >> "$CLUSTRIX_EVENTS"',
        'printf \'{"scratch":"%s","isDir":%s}\\n\' "$CLUSTRIX_SCRATCH" "$(test -d "$CLUSTRIX_SCRATCH" && echo true || echo false)" >> "$CLUSTRIX_EVENTS"',
        'touch "$CLUSTRIX_SCRATCH/left-behind"',
        // Wait (bounded) until the test has seen the first events: they must arrive while the job runs.
        `i=0; while [ ! -e '${go}' ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done`,
        'echo "not json" >> "$CLUSTRIX_EVENTS"',
        'printf \'{"$clustrix":1,"at":1234,"item":2,"data":{"done":true}}\' >> "$CLUSTRIX_EVENTS"',
      ].join('\n'),
    });
    const seen: unknown[] = [];
    let scratch = '';
    for await (const ev of job.progress()) {
      seen.push(ev.raw !== undefined ? { raw: ev.raw } : ev.item !== undefined ? { item: ev.item, at: ev.at, data: ev.data } : ev.data);
      const d = ev.data as { scratch?: string } | null;
      if (d?.scratch) {
        scratch = d.scratch;
        // The job is still running (it waits for this file): the events arrived live.
        expect((await job.refresh()).state).toBe('RUNNING');
        await c.fs.writeFile(go, 'go');
      }
    }
    expect(seen).toEqual([{ step: 1 }, { scratch, isDir: true }, { raw: 'not json' }, { item: 2, at: 1234, data: { done: true } }]);
    expect((await job.wait({ timeoutMs: 30_000 })).state).toBe('COMPLETED');
    // The scratch dir the wrapper made is gone once the task ended.
    expect(scratch).not.toBe('');
    expect(await c.fs.exists(scratch)).toBe(false);
  }, 90_000);

  it('runs inside a dependency environment given by its hash, and refuses one that is not built', async () => {
    const value = `it's $(not run) "quoted"`;
    const env = await c.envs.ensure({ env: { CLX_ENV_PROBE: value } });
    const job = await submit({ command: ['sh', '-c', 'printf %s "$CLX_ENV_PROBE|$CLUSTRIX_ENV"'], name: 'in-env', environment: env.hash });
    expect((await job.wait({ timeoutMs: 60_000 })).state).toBe('COMPLETED');
    expect(await job.logs().text()).toBe(`${value}|${env.path}`);
    const missing = '0'.repeat(64);
    await expect(submit({ command: ['true'], environment: missing })).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining(missing) });
  }, 90_000);

  it('keeps names, env values and paths with quotes, spaces, $() and newlines inert', async () => {
    const marker = `${bed.scratch}/pwned-${randomUUID()}`;
    const evil = `$(touch ${marker}) \`touch ${marker}\` '"\\ ; touch ${marker}\nsecond line`;
    const workdir = `${bed.scratch}/work dir 'q' "d" $(x)`;
    await c.fs.mkdir(workdir);
    const name = `we"ird 'name' $(touch ${marker})\nline2`;
    const job = await submit({
      command: ['sh', '-c', 'printf "%s|" "$EVIL" "$1"; pwd', 'sh', evil],
      name,
      env: { EVIL: evil },
      workdir,
      stdout: `${workdir}/out "%j" $(y).txt`,
    });
    const done = await job.wait({ timeoutMs: 60_000 });
    expect(done.state).toBe('COMPLETED');
    expect(done.name).toBe(name);
    expect(done.stdout).toBe(`${workdir}/out "${job.id}" $(y).txt`);
    expect(await job.logs().text()).toBe(`${evil}|${evil}|${workdir}\n`);
    expect(await c.fs.exists(marker)).toBe(false);
  });

  it(o.memory.enforced ? 'reports a job over its memory limit' : 'memory limits (not enforced here)', async () => {
    if (!o.memory.enforced) return void console.warn(`[${sched()}] memory test skipped: ${o.memory.why}`);
    const job = await submit({
      script: '#!/bin/bash\nx=0123456789abcdef\nwhile :; do x="$x$x"; [ ${#x} -gt 400000000 ] && break; done\nsleep 2\necho survived\n',
      name: 'memhog',
      resources: { memory: o.memory.memory, time: 120 },
    });
    const done = await job.wait({ timeoutMs: 90_000 });
    expect(await job.logs().text()).not.toContain('survived');
    expect(done.state).toBe(o.memory.expect);
  });

  it('knows the state of its jobs after the agent is killed with -9 and restarted', async () => {
    const ends = await submit({ command: ['sh', '-c', 'sleep 3; echo bye; exit 7'], name: 'ends-while-down' });
    const runs = await submit({ command: ['sh', '-c', 'sleep 12; echo still here'], name: 'outlives' });
    await until('the first to run', async () => (await ends.refresh()).state === 'RUNNING', 60_000);
    await c.close();
    const { oldPid, newPid } = await bed.killAndRestart();
    expect(newPid).not.toBe(oldPid);
    await new Promise((r) => setTimeout(r, 4000)); // `ends` finishes while nobody watches it
    c = await bed.connect();
    const a = await c.jobs.job(ends.id).wait({ timeoutMs: 60_000 });
    expect(a).toMatchObject({ state: 'FAILED', exitCode: 7 });
    const b = await c.jobs.job(runs.id).wait({ timeoutMs: 60_000 });
    expect(b.state).toBe('COMPLETED');
    expect(await c.jobs.job(runs.id).logs().text()).toBe('still here\n');
  }, 120_000);

  it('submits once when a submit is retried with the same idempotency key', async () => {
    const key = `retry-${randomUUID()}`;
    const name = `idem${randomUUID().slice(0, 8)}`;
    const spec: JobSpec = { command: ['sleep', '60'], name };
    // The first attempt's connection drops before the answer arrives…
    const lost = await bed.connect();
    const p = lost.jobs.submit(spec, { scheduler: sched(), idempotencyKey: key });
    p.catch(() => {});
    await lost.close();
    await expect(p).rejects.toMatchObject({ name: 'ConnectionError' });
    // …so the client retries, twice at once, on new connections.
    const other = await bed.connect();
    const [a, b] = await Promise.all([submit(spec, key), other.jobs.submit(spec, { scheduler: sched(), idempotencyKey: key })]);
    await other.close();
    expect(a.id).toBe(b.id);
    const again = await submit(spec, key);
    expect(again.id).toBe(a.id);
    expect(again.existing).toBe(true);
    expect(await bed.countByName(name)).toBe(1);
    expect((await c.jobs.list({ which: 'all', limit: 1000 })).filter((j) => j.name === name)).toHaveLength(1);
    await a.cancel();
    expect((await a.wait({ timeoutMs: 60_000 })).state).toBe('CANCELLED');
  });

  it(
    'kills a job at its time limit: TIMEOUT',
    async () => {
      if (!timeLimited) await startTimeLimited();
      const job = c.jobs.job(timeLimited!.id);
      const done = await job.wait({ timeoutMs: Math.max(5_000, o.timeLimit.waitMs - (Date.now() - timeLimited!.submittedAt)) });
      expect(done.state).toBe('TIMEOUT');
      expect(done.endedAt! - done.startedAt!).toBeLessThan(o.timeLimit.waitMs);
    },
    o.timeLimit.waitMs + 15_000,
  );
}

/** "1-2:3:4" style helpers for recorded values. */
export function parseHms(s: string): number {
  const m = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)$/.exec(s);
  if (!m) return NaN;
  return Number(m[1] ?? 0) * 86400 + Number(m[2] ?? 0) * 3600 + Number(m[3]) * 60 + Number(m[4]);
}
