/**
 * Jobs on a real Son of Grid Engine 8.1.9 cell (the testbed), through a real
 * agent running as the unprivileged test user (SGE refuses root's jobs).
 * What SGE recorded is read back with `qacct -j` / `qstat -j` as that user.
 *
 * cpus > 1 need a parallel environment; the testbed defines none, so this
 * suite adds an `smp` PE ($pe_slots) to its queues, as every real site has.
 * Dependencies: -hold_jid waits for any end, so afterany (afterok is refused
 * with UNSUPPORTED, asserted below). Time limit: h_rt is enforced by SIGKILL
 * within ~1 s. Memory: h_vmem is an address-space rlimit, not a kill — the
 * program's allocation fails and it dies its own way (bash: "xrealloc: cannot
 * allocate", exit 2); the agent reports OUT_OF_MEMORY from that stderr line.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { parseQacct } from '../../agent/jobs/parse/sge.js';
import { asUser, describeBed, until, loadBed, schedulerEnv, startUserAgent, userInfoOf } from './support.js';
import { defineJobSuite, type Recorded } from './suite.js';

const { state: sge, reason } = loadBed('sge');

/** Add an `smp` parallel environment to the cell's queues (idempotent; as root, the cell's manager). */
function ensureSmpPe(env: Record<string, string>, queues: string[], dir: string): void {
  const opts = { env: { ...process.env, ...env }, encoding: 'utf8' as const, stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'] };
  const pes = (() => {
    try {
      return execFileSync('qconf', ['-spl'], opts);
    } catch {
      return '';
    }
  })();
  if (!/^smp$/m.test(pes)) {
    const file = join(dir, 'smp.pe');
    writeFileSync(
      file,
      [
        'pe_name smp',
        'slots 9999',
        'user_lists NONE',
        'xuser_lists NONE',
        'start_proc_args NONE',
        'stop_proc_args NONE',
        'allocation_rule $pe_slots',
        'control_slaves FALSE',
        'job_is_first_task TRUE',
        'urgency_slots min',
        'accounting_summary FALSE',
        'qsort_args NONE',
        '',
      ].join('\n'),
    );
    execFileSync('qconf', ['-Ap', file], opts);
  }
  for (const q of queues) {
    const conf = execFileSync('qconf', ['-sq', q], opts);
    if (!/^pe_list\s+.*\bsmp\b/m.test(conf)) execFileSync('qconf', ['-mattr', 'queue', 'pe_list', 'smp', q], opts);
  }
}

describeBed('jobs on real Grid Engine', reason, () => {
  const user = sge ? userInfoOf(sge.user) : null!;
  const env = sge ? schedulerEnv(user, null, sge) : {};
  const qacct = async (id: string) => parseQacct((await asUser(user, env, 'qacct', ['-j', id])).stdout);

  defineJobSuite({
    async setup() {
      const agent = await startUserAgent(user, env);
      ensureSmpPe(env, sge!.queues, agent.root);
      return {
        scheduler: 'sge',
        scratch: join(agent.root, 'scratch'),
        connect: () => agent.connect(),
        async killAndRestart() {
          const oldPid = agent.info.pid;
          const info = await agent.killAndRestart();
          return { oldPid, newPid: info.pid };
        },
        async recorded(job): Promise<Recorded> {
          // The wrapper reports the end at once; qacct's record is flushed a moment later.
          const want = job.array?.count ?? 1;
          const recs = await until(
            'the accounting record',
            async () => {
              const x = await qacct(job.nativeIds[0]!);
              return x.length >= want && x;
            },
            20_000,
          );
          const r = recs[0]!;
          const raw = (await asUser(user, env, 'qacct', ['-j', job.nativeIds[0]!])).stdout;
          const field = (k: string) => new RegExp(`^${k}\\s+(.*?)\\s*$`, 'm').exec(raw)?.[1];
          const out: Recorded = { exitCode: r.exitStatus, cpus: Number(field('slots')), partition: field('qname')! };
          const rt = /h_rt=(\d+)/.exec(r.category);
          if (rt) out.timeSec = Number(rt[1]);
          const vmem = /h_vmem=(\d+)M/.exec(r.category);
          if (vmem) out.memoryMb = Number(vmem[1]) * (out.cpus ?? 1); // per slot
          if (job.array) out.arrayTasks = recs.map((x) => x.taskid!).sort((a, b) => a - b);
          return out;
        },
        async dependencyOf(job) {
          const r = await asUser(user, env, 'qstat', ['-j', job.nativeIds[0]!]);
          return /jid_predecessor_list[^:]*:\s*(.*)/.exec(r.stdout)?.[1] ?? '';
        },
        async countByName(name) {
          const r = await asUser(user, env, 'qstat', ['-xml', '-u', user.name]);
          return [...r.stdout.matchAll(/<JB_name>([^<]*)<\/JB_name>/g)].filter((m) => m[1] === name).length;
        },
        cleanup: () => agent.cleanup(),
      };
    },
    resources: { cpus: 2, memory: '200M', time: '10:00', partition: 'long.q' },
    expectRecorded: { cpus: 2, memoryMb: 200, timeSec: 600, partition: 'long.q', exitCode: 0 },
    arrayNative: [1, 2, 3, 4],
    dependency: 'afterany',
    timeLimit: { time: 5, waitMs: 60_000, sleepSec: 120 },
    memory: sge?.canEnforceMemory
      ? { enforced: true, memory: '100M', expect: 'OUT_OF_MEMORY' }
      : { enforced: false, why: 'the SGE testbed cannot enforce h_vmem' },
  });

  it('refuses afterok, which Grid Engine cannot express', async () => {
    const agent = await startUserAgent(user, env);
    const c = await agent.connect();
    try {
      const first = await c.jobs.submit({ command: ['true'] }, { scheduler: 'sge' });
      await expect(c.jobs.submit({ command: ['true'], dependencies: { afterok: [first.id] } }, { scheduler: 'sge' })).rejects.toMatchObject({
        code: 'UNSUPPORTED',
        message: expect.stringContaining('spec.dependencies.afterok'),
      });
      await first.wait({ timeoutMs: 60_000 });
    } finally {
      await c.close();
      await agent.cleanup();
    }
  });
});
