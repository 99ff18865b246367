/**
 * storage.verify end to end: a real agent, a real probe job on the local
 * scheduler, on the testbed's real Slurm and on its Grid Engine (agent run
 * as the unprivileged test user, as in test/jobs). The testbed is one host:
 * the probe runs on the login node itself, so every probed location is
 * trivially shared — which the evidence must say.
 *
 * Checked: the verdicts are recorded with a timestamp, storage.detect then
 * reports `verified: true`, no marker file is left behind, a probe that
 * cannot start times out and is cancelled (and so is one the client aborts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Cluster } from '../../client/cluster.js';
import { RemoteError } from '../../client/errors.js';
import { verifyStorage } from '../../client/storage.js';
import type { StorageVerifyProgress, StorageVerifyResult } from '../../protocol/index.js';
import { asUser, describeBed, loadBed, schedulerEnv, startUserAgent, until, userInfoOf, type UserAgent } from '../jobs/support.js';
import { localEnv, type LocalEnv } from '../support/local-agent.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Markers of this probe still on disk, in every directory it probed. */
function leftovers(r: StorageVerifyResult): string[] {
  const out: string[] = [];
  for (const l of r.probe.locations) {
    if (!l.probeDir) continue;
    for (const n of readdirSync(l.probeDir)) if (n.startsWith(`.clustrix-probe-${r.probe.nonce}`)) out.push(join(l.probeDir, n));
  }
  return out;
}

/** What every scheduler must show on the one-host testbed. */
async function expectVerified(c: Cluster, r: StorageVerifyResult, root: string, startedAt: number, progress: StorageVerifyProgress[]): Promise<void> {
  expect(r.probe).toMatchObject({ state: 'COMPLETED', sameHost: true });
  const probed = r.probe.locations.filter((l) => l.verdict !== 'skipped');
  expect(probed.length).toBeGreaterThan(0);
  // One host: every probed location is shared, and both directions were seen.
  for (const l of probed) expect(l, l.path).toMatchObject({ verdict: 'shared', computeSaw: true, loginSaw: true });
  expect(probed.map((l) => l.kind)).toContain('clustrix-root');
  for (const l of r.probe.locations.filter((x) => x.verdict === 'skipped')) expect(l.reason).not.toBe('');

  const byPath = new Map(r.locations.map((l) => [l.path, l]));
  for (const l of probed) {
    const loc = byPath.get(l.path)!;
    expect(loc, l.path).toMatchObject({ shared: true, verified: true });
    expect(loc.verifiedAt).toBeGreaterThanOrEqual(startedAt);
    expect(loc.verifiedAt).toBeLessThanOrEqual(r.probe.endedAt);
    expect(loc.sharedReason).toMatch(new RegExp(`probe job ${r.probe.jobId} .*ran on .*the login node itself`));
  }
  // Recorded: a fresh detection says the same.
  const again = await c.storage({ quota: false });
  for (const l of probed)
    expect(
      again.locations.find((x) => x.path === l.path),
      l.path,
    ).toMatchObject({ verified: true, verifiedAt: byPath.get(l.path)!.verifiedAt });
  const file = JSON.parse(readFileSync(join(root, 'storage.json'), 'utf8')) as { verified: Record<string, { evidence: string }>; placement: { base: string } };
  expect(Object.values(file.verified).some((v) => v.evidence.includes(r.probe.jobId!))).toBe(true);
  expect(file.placement.base).toBe(r.placement.base);

  expect(leftovers(r)).toEqual([]);
  const stages = new Set(progress.map((p) => p.stage));
  for (const s of ['markers', 'submit', 'job', 'verdict', 'cleanup'] as const) expect(stages, s).toContain(s);
}

describe('storage.verify on the local scheduler', () => {
  let env: LocalEnv;
  afterEach(async () => env?.cleanup());

  it('verifies every writable location and records it; detection then reports it verified', async () => {
    env = localEnv();
    const c = await env.connect();
    const progress: StorageVerifyProgress[] = [];
    const startedAt = Date.now();
    const r = await c.storage({ verify: true, onProgress: (p) => progress.push(p) });
    expect(r.probe.scheduler).toBe('local');
    await expectVerified(c, r, env.root, startedAt, progress);
    expect(r.inUse?.jobs).toBe(join(env.root, 'jobs'));
    await c.close();
  });

  it('times out when the probe job cannot start, cancels it and leaves no marker', async () => {
    env = localEnv({ idleExitMs: 300_000 });
    const c = await env.connect();
    // An exclusive job takes every slot of the local scheduler: the probe queues behind it.
    const blocker = await c.jobs.submit({ command: ['sleep', '300'], resources: { exclusive: true } });
    try {
      const err = await verifyStorage(c.connection, { probeTimeoutMs: 1500 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RemoteError);
      expect((err as RemoteError).code).toBe('TIMEOUT');
      expect((err as RemoteError).message).toMatch(/was still PENDING after 1500 ms and was cancelled/);
      const { jobId, nonce } = (err as RemoteError).details as { jobId: string; nonce: string };
      expect((await c.jobs.get(jobId)).state).toBe('CANCELLED');
      // The error comes after the clean-up: nothing of this probe is left where it wrote.
      for (const dir of [env.root, '/tmp', homedir()]) expect(readdirSync(dir).filter((n) => n.startsWith(`.clustrix-probe-${nonce}`))).toEqual([]);
    } finally {
      await blocker.cancel();
      await c.close();
    }
  });

  it('cleans up before the agent exits when it is stopped mid-probe (SIGTERM)', async () => {
    env = localEnv({ idleExitMs: 300_000 });
    const c = await env.connect();
    const blocker = await c.jobs.submit({ command: ['sleep', '300'], resources: { exclusive: true } });
    const pid = c.connection.welcome.pid;
    // The root is this test's own: only this probe writes markers there.
    const markers = () => readdirSync(env.root).filter((n) => n.startsWith('.clustrix-probe-'));
    let atStop: string[] | undefined;
    const probing = verifyStorage(c.connection, {
      onProgress: (p) => {
        if (p.stage === 'submit' && atStop === undefined) {
          atStop = markers();
          process.kill(pid, 'SIGTERM'); // the agent this test started
        }
      },
    }).catch((e: unknown) => e);
    try {
      const err = await probing;
      expect(err).toBeInstanceOf(Error);
      expect(atStop?.length).toBeGreaterThan(0);
      await until('the agent to exit', () => !alive(pid), 20_000);
      // Gone, and nothing of the probe is left: the markers went before the process did.
      expect(markers()).toEqual([]);
    } finally {
      const again = await env.connect();
      await again.jobs.job(blocker.id).cancel();
      await again.close();
    }
  });

  it('cancels the probe job when the client aborts', async () => {
    env = localEnv({ idleExitMs: 300_000 });
    const c = await env.connect();
    const blocker = await c.jobs.submit({ command: ['sleep', '300'], resources: { exclusive: true } });
    try {
      const ac = new AbortController();
      let jobId: string | undefined;
      const err = await verifyStorage(c.connection, {
        signal: ac.signal,
        onProgress: (p) => {
          if (p.stage === 'submit') {
            jobId = p.jobId;
            ac.abort();
          }
        },
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect(jobId).toBeDefined();
      // The agent cancels the job (behind the blocker it would otherwise wait forever)…
      expect((await c.jobs.job(jobId!).wait()).state).toBe('CANCELLED');
      // …and then removes its markers; the client is not told when, so look until they are gone.
      // (The root is probed last, so once its markers are gone so are the others.)
      await until('the markers to be removed', () => readdirSync(env.root).every((n) => !n.startsWith('.clustrix-probe-')), 20_000);
    } finally {
      await blocker.cancel();
      await c.close();
    }
  });
});

const { state: slurm, reason: slurmReason } = loadBed('slurm');

describeBed('storage.verify on real Slurm', slurmReason, () => {
  let agent: UserAgent | undefined;
  afterEach(async () => agent?.cleanup());
  const user = slurm ? userInfoOf(slurm.user) : null!;
  const env = slurm ? schedulerEnv(user, slurm, null) : {};
  const scontrol = async (nativeId: string) => (await asUser(user, env, 'scontrol', ['show', 'job', '-o', nativeId])).stdout;

  it('runs the probe as a Slurm job that needs nothing from the root, and records the verdicts', async () => {
    agent = await startUserAgent(user, env);
    const c = await agent.connect();
    const progress: StorageVerifyProgress[] = [];
    const startedAt = Date.now();
    const r = await verifyStorage(c.connection, { scheduler: 'slurm', onProgress: (p) => progress.push(p) });
    expect(r.probe.scheduler).toBe('slurm');
    await expectVerified(c, r, agent.root, startedAt, progress);
    // Its output, and Slurm's own log and working directory, were kept off the clustrix root.
    const native = (await c.jobs.get(r.probe.jobId!)).nativeIds[0]!;
    const rec = await scontrol(native);
    expect(rec).toMatch(/ StdOut=\/dev\/null /);
    expect(rec).toMatch(/ WorkDir=\/ /);
    await c.close();
  });

  it('gives up on a held probe job at the time limit and cancels it in Slurm', async () => {
    agent = await startUserAgent(user, env);
    const c = await agent.connect();
    const err = await verifyStorage(c.connection, { scheduler: 'slurm', probeTimeoutMs: 3000, directives: ['--hold'] }).catch((e: unknown) => e);
    expect((err as RemoteError).code).toBe('TIMEOUT');
    const id = (err as RemoteError).details?.jobId as string;
    expect((await c.jobs.get(id)).state).toBe('CANCELLED');
    expect(await scontrol((await c.jobs.get(id)).nativeIds[0]!)).toMatch(/JobState=CANCELLED/);
    expect(readdirSync(agent.root).filter((n) => n.startsWith('.clustrix-probe-'))).toEqual([]);
    await c.close();
  });
});

const { state: sge, reason: sgeReason } = loadBed('sge');

describeBed('storage.verify on real Grid Engine', sgeReason, () => {
  let agent: UserAgent | undefined;
  afterEach(async () => agent?.cleanup());
  const user = sge ? userInfoOf(sge.user) : null!;
  const env = sge ? schedulerEnv(user, null, sge) : {};

  it('runs the probe as an SGE job and records the verdicts', async () => {
    agent = await startUserAgent(user, env);
    const c = await agent.connect();
    const progress: StorageVerifyProgress[] = [];
    const startedAt = Date.now();
    const r = await verifyStorage(c.connection, { scheduler: 'sge', onProgress: (p) => progress.push(p) });
    expect(r.probe.scheduler).toBe('sge');
    await expectVerified(c, r, agent.root, startedAt, progress);
    await c.close();
  });

  it("keeps Grid Engine's own log and working directory off the clustrix root (qstat -j of the held probe)", async () => {
    agent = await startUserAgent(user, env);
    const c = await agent.connect();
    const ac = new AbortController();
    let seen: Promise<string> | undefined;
    const err = await verifyStorage(c.connection, {
      scheduler: 'sge',
      directives: ['-h'], // held: it waits until we have looked, then we cancel
      signal: ac.signal,
      onProgress: (p) => {
        const native = p.stage === 'submit' ? / as (\d+)$/.exec(p.message)?.[1] : undefined;
        if (native) seen = asUser(user, env, 'qstat', ['-j', native]).then((r) => (ac.abort(), r.stdout));
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    const qstat = await seen!;
    expect(qstat).toMatch(/^cwd:\s+\/$/m);
    expect(qstat).toMatch(/^stdout_path_list:\s+NONE:NONE:\/dev\/null$/m);
    // The agent cancels the job and removes the markers (the root is probed last).
    const root = agent.root;
    await until('the markers to be removed', () => readdirSync(root).every((n) => !n.startsWith('.clustrix-probe-')), 20_000);
    await c.close();
  });
});
