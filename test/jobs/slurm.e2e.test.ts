/**
 * Jobs on a real Slurm 22.05 (the testbed's single-node cluster), through a
 * real agent running as the unprivileged test user. What Slurm recorded is
 * read back with `scontrol show job` as that user.
 *
 * Time limit: Slurm limits are whole minutes and slurmctld enforces them on a
 * ~30 s cycle: the `-t 1` job is killed 60-90 s after it starts (the test
 * allows 150 s; the rest of the suite runs meanwhile).
 * Memory: enforced by OverMemoryKill (jobacct_gather polls RSS); Slurm records
 * FAILED/JobLaunchFailure 0:9, the agent reports OUT_OF_MEMORY from
 * slurmstepd's "exceeded memory limit" line.
 */
import { join } from 'node:path';
import { parseScontrolRecords } from '../../agent/jobs/parse/slurm.js';
import { expect, it } from 'vitest';
import { asUser, describeBed, loadBed, schedulerEnv, startUserAgent, userInfoOf } from './support.js';
import { defineJobSuite, parseHms, type Recorded } from './suite.js';

const { state: slurm, reason } = loadBed('slurm');

describeBed('jobs on real Slurm', reason, () => {
  const user = slurm ? userInfoOf(slurm.user) : null!;
  const env = slurm ? schedulerEnv(user, slurm, null) : {};
  const scontrol = async (id: string) => {
    const r = await asUser(user, env, 'scontrol', ['show', 'job', '-o', id]);
    return parseScontrolRecords(r.stdout);
  };

  defineJobSuite({
    async setup() {
      const agent = await startUserAgent(user, env);
      return {
        scheduler: 'slurm',
        scratch: join(agent.root, 'scratch'),
        connect: () => agent.connect(),
        async killAndRestart() {
          const oldPid = agent.info.pid;
          const info = await agent.killAndRestart();
          return { oldPid, newPid: info.pid };
        },
        async recorded(job): Promise<Recorded> {
          const recs = await scontrol(job.nativeIds[0]!);
          const r = recs[0] ?? {};
          const out: Recorded = {
            cpus: Number(r['CPUs/Task']),
            timeSec: parseHms(r.TimeLimit ?? ''),
            partition: r.Partition!,
            state: r.JobState!,
          };
          const mem = /^(\d+)M$/.exec(r.MinMemoryNode ?? '');
          if (mem) out.memoryMb = Number(mem[1]);
          if (job.array) out.arrayTasks = recs.map((x) => Number(x.ArrayTaskId)).sort((a, b) => a - b);
          const ec = /^(\d+):/.exec(r.ExitCode ?? '');
          if (ec) out.exitCode = Number(ec[1]);
          return out;
        },
        async dependencyOf(job) {
          return (await scontrol(job.nativeIds[0]!))[0]?.Dependency ?? '';
        },
        async countByName(name) {
          const r = await asUser(user, env, 'squeue', ['-h', '-t', 'all', '-u', user.name, '-n', name, '-o', '%A']);
          return new Set(r.stdout.split('\n').filter(Boolean)).size;
        },
        cleanup: () => agent.cleanup(),
      };
    },
    resources: { cpus: 2, memory: '200M', time: '10:00', partition: 'long' },
    expectRecorded: { cpus: 2, memoryMb: 200, timeSec: 600, partition: 'long', state: 'COMPLETED' },
    arrayNative: [0, 1, 2, 3],
    dependency: 'afterok',
    timeLimit: { time: '1', waitMs: 150_000, sleepSec: 300 },
    memory: slurm?.canEnforceMemory
      ? { enforced: true, memory: '50M', expect: 'OUT_OF_MEMORY' }
      : { enforced: false, why: 'the Slurm testbed cannot enforce --mem' },
  });

  it('renumbers an array whose indices exceed MaxArraySize; every task still sees its own index', async () => {
    const agent = await startUserAgent(user, env);
    const c = await agent.connect();
    try {
      const big = slurm!.maxArraySize; // indices must stay below it
      const indices = [5, big, big + 1, big + 7];
      const job = await c.jobs.submit({ command: ['sh', '-c', 'echo "$CLUSTRIX_TASK_ID $SLURM_ARRAY_TASK_ID"'], array: indices }, { scheduler: 'slurm' });
      const done = await job.wait({ timeoutMs: 60_000 });
      expect(done.state).toBe('COMPLETED');
      // Slurm ran native tasks 0-3; the wrapper mapped each back to the user's index.
      for (const [k, i] of indices.entries()) expect((await job.logs({ task: i }).text()).trim()).toBe(`${i} ${k}`);
      const recs = await scontrol(done.nativeIds[0]!);
      expect(recs.map((r) => Number(r.ArrayTaskId)).sort((a, b) => a - b)).toEqual([0, 1, 2, 3]);
    } finally {
      await c.close();
      await agent.cleanup();
    }
  });
});
