/**
 * Functions part of the bench: what `cluster.run` costs over doing the same
 * by hand, on the same scheduler.
 *
 *  - Slurm testbed: `run(mod, 'answer', [])` to its result, against a bare
 *    `sbatch --wrap "node -e …"` whose output file is watched for the answer
 *    (the least a script does to get a value back);
 *  - local scheduler: the same `run`, against spawning `node -e …` directly;
 *  - the first call (bundle + upload) apart from warm ones.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Cluster } from '../../client/cluster.js';
import { connect } from '../../client/index.js';
import { runLocalAgent } from '../../client/local.js';
import type { SchedulerName } from '../../protocol/index.js';
import { loadBed, schedulerEnv, startUserAgent, userInfoOf } from '../../test/jobs/support.js';
import { fmtMs, median, type Row } from './stats.js';

const exec = promisify(execFile);

interface Side {
  name: string;
  scheduler: SchedulerName;
  c: Cluster;
  /** Wait until the scheduler is idle again, so each measurement starts from the same state. */
  settle(): Promise<void>;
  /** The same work without clustrix: start node, get its answer back. */
  baseline(): Promise<number>;
  baselineHow: string;
  cleanup(): Promise<void>;
}

function moduleDir(): { dir: string; mod: string } {
  const dir = mkdtempSync('/tmp/clx-bench-fn-');
  chmodSync(dir, 0o755);
  const mod = join(dir, 'answer.ts');
  writeFileSync(mod, 'export function answer(): number {\n  return 42;\n}\n');
  chmodSync(mod, 0o644);
  return { dir, mod };
}

async function slurmSide(): Promise<Side | string> {
  const { state, reason } = loadBed('slurm');
  if (!state) return reason;
  const user = userInfoOf(state.user);
  const env = schedulerEnv(user, state, null);
  const agent = await startUserAgent(user, env);
  const c = await agent.connect();
  const as = (cmd: string, args: string[]) => exec(cmd, args, { uid: user.uid, gid: user.gid, env, cwd: '/tmp' });
  const outDir = mkdtempSync('/tmp/clx-bench-fnout-');
  chmodSync(outDir, 0o777);
  let n = 0;
  return {
    name: 'Slurm testbed',
    scheduler: 'slurm',
    c,
    baselineHow: 'sbatch --wrap "node -e …", its output file watched every 20 ms',
    // A job submitted while the node still completes the previous one waits for the next
    // scheduling pass (~0.9 s here): measure both sides from an idle node.
    async settle() {
      for (let i = 0; i < 200; i++) {
        const nodes = (await as('sinfo', ['-h', '-o', '%T'])).stdout.trim().split('\n');
        const jobs = (await as('squeue', ['-h', '-u', user.name, '-o', '%i'])).stdout.trim();
        if (jobs === '' && nodes.every((n) => n === 'idle')) return;
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    // The answer is watched in the job's output file, not with squeue: slurmctld schedules
    // sooner while RPCs keep arriving, so polling squeue would speed the baseline up.
    async baseline() {
      const out = join(outDir, `out-${n++}`);
      const t0 = performance.now();
      await as('sbatch', ['--parsable', '-o', out, '--wrap', `${process.execPath} -e "process.stdout.write(String(42))"`]);
      for (let i = 0; i < 1500; i++) {
        if (existsSync(out) && readFileSync(out, 'utf8') === '42') return performance.now() - t0;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error('baseline job gave no answer in 30 s');
    },
    async cleanup() {
      await c.close();
      await agent.cleanup();
      rmSync(outDir, { recursive: true, force: true });
    },
  };
}

async function localSide(): Promise<Side> {
  const base = mkdtempSync('/tmp/clx-bench-fnl-');
  const opts = { root: `${base}/root`, runDir: `${base}/run`, idleExitMs: 600_000 };
  const c = await connect('local', opts);
  return {
    name: 'local scheduler',
    scheduler: 'local',
    c,
    baselineHow: 'spawn node -e … directly',
    async settle() {},
    async baseline() {
      const t0 = performance.now();
      const r = await exec(process.execPath, ['-e', 'process.stdout.write(String(42))']);
      if (r.stdout !== '42') throw new Error('baseline gave no answer');
      return performance.now() - t0;
    },
    async cleanup() {
      await c.close();
      await runLocalAgent(opts, 'stop');
      rmSync(base, { recursive: true, force: true });
    },
  };
}

export async function benchFunctions(opts: { rounds: number }): Promise<{ tables: { title: string; rows: Row[] }[]; raw: Record<string, unknown> }> {
  const tables: { title: string; rows: Row[] }[] = [];
  const raw: Record<string, unknown> = {};
  const { dir, mod } = moduleDir();
  const slurm = await slurmSide();
  if (typeof slurm === 'string') {
    tables.push({ title: `Functions: Slurm testbed skipped — ${slurm}`, rows: [] });
    raw.slurm = { skipped: slurm };
  }
  const sides = [...(typeof slurm === 'string' ? [] : [slurm]), await localSide()];
  try {
    for (const s of sides) {
      const call = () => s.c.run<() => number>(mod, 'answer', [], { scheduler: s.scheduler });
      await s.settle();
      const t0 = performance.now();
      const first = call();
      if ((await first) !== 42) throw new Error('run gave the wrong answer');
      const coldMs = performance.now() - t0;
      const uploaded = (await first.submitted)!.bundle.uploaded;
      const ours: number[] = [];
      const base: number[] = [];
      for (let i = 0; i < Math.max(3, opts.rounds); i++) {
        await s.settle();
        const t1 = performance.now();
        if ((await call()) !== 42) throw new Error('run gave the wrong answer');
        ours.push(performance.now() - t1);
        await s.settle();
        base.push(await s.baseline());
      }
      const o = median(ours);
      const b = median(base);
      raw[s.name] = { coldMs, uploaded, ours, baseline: base };
      tables.push({
        title: `Functions on the ${s.name}: run() to its result vs the same by hand (medians of ${ours.length} interleaved rounds)`,
        rows: [
          {
            metric: 'run(mod, "answer") → 42',
            ours: fmtMs(o),
            baseline: `${fmtMs(b)} ${s.baselineHow}`,
            ratio: `${o >= b ? '+' : '−'}${fmtMs(Math.abs(o - b))}`,
            goal: 'reported (no set goal)',
          },
          { metric: 'first call (esbuild bundle + upload)', ours: fmtMs(coldMs), baseline: '', ratio: '', goal: uploaded ? 'uploaded once' : 'already there' },
        ],
      });
    }
  } finally {
    for (const s of sides) await s.cleanup().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
  return { tables, raw };
}
