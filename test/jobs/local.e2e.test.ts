/**
 * Jobs on the local scheduler (the embedded default), through the real agent
 * started by `connect('local')`: the same suite as Slurm and Grid Engine.
 * "What the scheduler recorded" is its queue entry (local.json) in the job dir.
 * Memory is enforced by the local scheduler itself (process-group RSS,
 * checked every second); time limits by TERM then KILL.
 */
import { readdirSync } from 'node:fs';
import { describe } from 'vitest';
import { join } from 'node:path';
import type { LocalJobFile } from '../../agent/jobs/local-scheduler.js';
import { readJson, type JobRecord } from '../../agent/jobs/store.js';
import { isAlive, localEnv } from '../support/local-agent.js';
import { until } from './support.js';
import { defineJobSuite, type Recorded } from './suite.js';

describe('jobs on the local scheduler', () => {
  defineJobSuite({
    async setup() {
      const env = localEnv({ idleExitMs: 300_000 });
      const jobsDir = join(env.root, 'jobs');
      const local = (id: string) => readJson<LocalJobFile>(join(jobsDir, id, 'local.json'));
      return {
        scheduler: 'local',
        scratch: join(env.root, 'scratch'),
        connect: () => env.connect(),
        async killAndRestart() {
          const oldPid = env.lockPid()!;
          process.kill(oldPid, 'SIGKILL');
          await until('the agent to die', () => !isAlive(oldPid), 10_000, 50);
          const c = await env.connect();
          const newPid = (await c.info()).pid;
          await c.close();
          return { oldPid, newPid };
        },
        async recorded(job): Promise<Recorded> {
          const f = local(job.id);
          if (!f) return {};
          const out: Recorded = { cpus: f.cpus };
          if (f.memoryMb !== undefined) out.memoryMb = f.memoryMb;
          if (f.timeSec !== undefined) out.timeSec = f.timeSec;
          if (f.indices) out.arrayTasks = f.indices;
          return out;
        },
        async dependencyOf(job) {
          const f = local(job.id);
          return f ? [...f.afterok.map((x) => `afterok:${x}`), ...f.afterany.map((x) => `afterany:${x}`)].join(',') : '';
        },
        async countByName(name) {
          return readdirSync(jobsDir).filter((id) => readJson<JobRecord>(join(jobsDir, id, 'job.json'))?.spec.name === name && local(id) !== null).length;
        },
        cleanup: () => env.cleanup(),
      };
    },
    // The local scheduler has no partitions: it records cpus, memory and time.
    resources: { cpus: 2, memory: '200M', time: '10:00' },
    expectRecorded: { cpus: 2, memoryMb: 200, timeSec: 600 },
    arrayNative: [0, 1, 2, 3],
    dependency: 'afterok',
    timeLimit: { time: 2, waitMs: 30_000, sleepSec: 120 },
    memory: { enforced: true, memory: '50M', expect: 'OUT_OF_MEMORY' },
  });
});
