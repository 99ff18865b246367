/**
 * The jobs service and poller against an in-memory scheduler: batching (one
 * status call for 1,000 jobs), backoff on scheduler trouble, terminal truth
 * from the wrapper's records when the scheduler forgot, idempotent submits
 * (concurrent, across two agents on one root, across processes), dependency
 * checks, recovery of an interrupted submit.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../agent/log.js';
import { pollInterval } from '../../agent/jobs/poller.js';
import { JobService } from '../../agent/jobs/service.js';
import { keyHash } from '../../agent/jobs/store.js';
import { jobsSubmit, parseParams, type JobSpecInput } from '../../protocol/index.js';
import { FakeAdapter } from './fake-adapter.js';

const run = promisify(execFile);
let roots: string[] = [];
const services: JobService[] = [];
afterEach(() => {
  for (const s of services.splice(0)) s.close();
  for (const r of roots) rmSync(r, { recursive: true, force: true });
  roots = [];
});

function service(fake = new FakeAdapter(), root?: string): { svc: JobService; fake: FakeAdapter; root: string } {
  const r = root ?? mkdtempSync('/tmp/clx-svc-');
  if (!root) roots.push(r);
  const svc = new JobService({ root: r, log: silentLogger, home: '/tmp', user: 'me', adapters: { slurm: fake }, poller: { minIntervalMs: 60_000 } });
  services.push(svc);
  return { svc, fake, root: r };
}

const submitP = (spec: JobSpecInput, key = `key-${Math.random()}`) => ({
  ...parseParams(jobsSubmit, { spec, idempotencyKey: key }),
  scheduler: 'slurm' as const,
});

describe('poller and service', () => {
  it('watches 1,000 jobs with ONE status call per poll', async () => {
    const { svc, fake } = service();
    const ids: string[] = [];
    for (let i = 0; i < 1000; i++) ids.push((await svc.submit(submitP({ command: ['true'] }))).job.id);
    expect(fake.calls.submit).toBe(1000);
    const before = fake.calls.status;
    await svc.pollOnce(svc.poller.ids());
    await svc.pollOnce(svc.poller.ids());
    expect(fake.calls.status - before).toBe(2);
    expect(svc.poller.watched).toBe(1000);
    expect(svc.stats().statusCalls).toBe(2);
  });

  it('backs off while the scheduler fails, and leaves job states alone', async () => {
    const { svc, fake } = service();
    const { job } = await svc.submit(submitP({ command: ['true'] }));
    fake.failStatus = 'slurm_load_jobs error: Socket timed out on send/recv operation';
    const intervals: number[] = [];
    for (let i = 0; i < 4; i++) {
      await svc.poller.pollNow();
      intervals.push(svc.poller.intervalMs);
    }
    expect(intervals).toEqual([2000, 4000, 8000, 16000]);
    expect(svc.poller.failures).toBe(4);
    expect((await svc.get(job.id, false)).state).toBe('PENDING');
    fake.failStatus = null;
    fake.run(fake.jobs.keys().next().value!);
    await svc.poller.pollNow();
    expect(svc.poller.failures).toBe(0);
    expect((await svc.get(job.id, false)).state).toBe('RUNNING');
  });

  it('polls every second right after a submit, then at most 6 times a minute, 2 once quiet', () => {
    expect(pollInterval(0, 0, 0)).toBe(1000);
    expect(pollInterval(9_000, 0, 0)).toBe(1000);
    expect(pollInterval(15_000, 0, 0)).toBe(10_000); // jobs keep changing: still ≤ 6 calls/min
    expect(pollInterval(120_000, 90_000, 0)).toBe(15_000);
    expect(pollInterval(3_600_000, 3_600_000, 0)).toBe(30_000);
    expect(pollInterval(0, 0, 10)).toBe(60_000);
  });

  it('takes the exit status from the wrapper record once the scheduler has forgotten the job', async () => {
    const { svc, fake } = service();
    const { job } = await svc.submit(submitP({ command: ['false'] }));
    const native = job.nativeIds[0]!;
    fake.run(native);
    await svc.pollOnce([job.id]);
    expect((await svc.get(job.id, false)).state).toBe('RUNNING');
    fake.exit(native, 5, { forget: true });
    await svc.pollOnce([job.id]);
    const done = await svc.get(job.id, false);
    expect(done).toMatchObject({ state: 'FAILED', exitCode: 5 });
    expect(svc.poller.watched).toBe(0);
    expect(svc.store.activeIds()).toEqual([]);
  });

  it('pushes state changes to watchers, starting with a snapshot', async () => {
    const { svc, fake } = service();
    const { job } = await svc.submit(submitP({ command: ['true'] }));
    const seen: string[] = [];
    const ac = new AbortController();
    const watching = svc.watch({ ids: [job.id], untilDone: true, tasks: false }, async (evs) => void seen.push(...evs.map((e) => e.state)), ac.signal);
    await new Promise((r) => setTimeout(r, 10));
    fake.run(job.nativeIds[0]!);
    await svc.pollOnce([job.id]);
    fake.exit(job.nativeIds[0]!, 0);
    await svc.pollOnce([job.id]);
    expect(await watching).toEqual({ events: 3 });
    expect(seen).toEqual(['PENDING', 'RUNNING', 'COMPLETED']);
  });

  it('submits once for one idempotency key: concurrent retries, and two agents on one root', async () => {
    const fake = new FakeAdapter();
    fake.submitDelayMs = 100;
    const a = service(fake);
    const b = service(fake, a.root); // another login node's agent, same shared root
    const p = submitP({ command: ['sleep', '60'] }, 'the-same-key-1');
    const results = await Promise.all([a.svc.submit(p), a.svc.submit(p), b.svc.submit(p), b.svc.submit(p)]);
    expect(new Set(results.map((r) => r.job.id)).size).toBe(1);
    expect(results.filter((r) => !r.existing)).toHaveLength(1);
    expect(fake.calls.submit).toBe(1);
    const later = await b.svc.submit(p);
    expect(later).toMatchObject({ existing: true, job: { id: results[0].job.id } });
    expect(fake.calls.submit).toBe(1);
  });

  it('lets a key be retried when the scheduler certainly refused the submit', async () => {
    const { svc, fake } = service();
    fake.failSubmit = 'sbatch: error: Batch job submission failed: Invalid partition name specified';
    const p = submitP({ command: ['true'], resources: { partition: 'nosuch' } }, 'refused-key-1');
    await expect(svc.submit(p)).rejects.toMatchObject({ code: 'SCHEDULER', message: expect.stringContaining('Invalid partition') });
    expect(svc.store.ids()).toEqual([]); // no record left behind
    fake.failSubmit = null;
    const r = await svc.submit(p);
    expect(r.existing).toBe(false);
  });

  it('claims a key exactly once when processes race for it (link(2), no flock)', async () => {
    const root = mkdtempSync('/tmp/clx-race-');
    roots.push(root);
    const script = `import { JobStore } from ${JSON.stringify(join(import.meta.dirname, '../../agent/jobs/store.ts'))};
      const s = new JobStore(process.argv[1]); const won = s.claimKey('k'.repeat(64), 'job-' + process.pid) === null; console.log(won ? 'won' : 'lost');`;
    const tsx = join(import.meta.dirname, '../../node_modules/tsx/dist/esm/index.mjs');
    const outs = await Promise.all(Array.from({ length: 6 }, () => run(process.execPath, ['--import', tsx, '--input-type=module', '-e', script, root])));
    expect(outs.map((o) => o.stdout.trim()).filter((x) => x === 'won')).toHaveLength(1);
  });

  it('refuses dependencies on unknown jobs, other schedulers, and failed jobs for afterok', async () => {
    const { svc, fake } = service();
    await expect(svc.submit(submitP({ command: ['true'], dependencies: { afterok: 'nojob' } }))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const { job } = await svc.submit(submitP({ command: ['false'] }));
    fake.exit(job.nativeIds[0]!, 1);
    await svc.pollOnce([job.id]);
    await expect(svc.submit(submitP({ command: ['true'], dependencies: { afterok: job.id } }))).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('can never be satisfied'),
    });
    // afterany on an ended job is already satisfied: no dependency is sent.
    const r = await svc.submit(submitP({ command: ['true'], dependencies: { afterany: job.id } }));
    expect([...fake.jobs.values()].find((j) => j.id === r.job.nativeIds[0])!.req.afterany).toEqual([]);
  });

  it('recovers a submit interrupted by an agent crash', async () => {
    const { svc, fake, root } = service();
    const { job } = await svc.submit(submitP({ command: ['true'] }, 'crash-key-12'));
    // Make it look like the agent died between sbatch and recording the id.
    const rec = svc.store.read(job.id)!;
    rec.state = 'SUBMITTING';
    delete rec.chunks[0]!.nativeId;
    rec.agentPid = 4194305; // above pid_max: not running
    svc.store.write(rec);
    svc.store.markActive(job.id);
    fake.findSubmitted = async () => '100';
    const next = service(fake, root);
    expect(await next.svc.recover()).toBe(1);
    expect(next.svc.store.read(job.id)).toMatchObject({ state: 'PENDING', chunks: [{ nativeId: '100' }] });
    const again = await next.svc.submit(submitP({ command: ['true'] }, 'crash-key-12'));
    expect(again).toMatchObject({ existing: true, job: { id: job.id } });
    expect(keyHash('crash-key-12')).toBe(rec.keyHash);
  });
});

declare module './fake-adapter.js' {
  interface FakeAdapter {
    findSubmitted?(id: string): Promise<string | null>;
  }
}
