/**
 * Job commands: submit (sbatch-like flags), jobs (table), job (one job),
 * logs [-f], cancel, wait. Jobs are named `host:id` (a bare id is local).
 */
import type { Command } from 'commander';
import { isTerminal, JOB_STATES, type JobInfo, type JobState } from '../../protocol/index.js';
import type { JobSpec } from '../jobs.js';
import { EXIT, UsageError } from './exit.js';
import { addJobFlags, posInt, schedulerFlag, specFromFlags, type SubmitFlags } from './job-flags.js';
import { out, withCluster, type GlobalOptions } from './session.js';
import { parseHost, parseTarget } from './target.js';

function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}

function when(ms: number, now = Date.now()): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return now - ms < 20 * 3600_000 ? time : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

function stateText(j: JobInfo): string {
  if (j.array && !isTerminal(j.state) && j.tasks) {
    const parts = Object.entries(j.tasks).map(([s, n]) => `${n} ${s.toLowerCase()}`);
    return `${j.state} (${parts.join(', ')})`;
  }
  return j.state;
}

/** The job table of `clustrix jobs`. */
export function jobsTable(jobs: JobInfo[], now = Date.now()): string {
  const head = ['ID', 'NAME', 'SCHED', 'NATIVE', 'STATE', 'EXIT', 'SUBMITTED', 'ELAPSED'];
  const rows = jobs.map((j) => [
    j.id,
    j.name.replace(/[\x00-\x1f\x7f]/g, '?').slice(0, 24),
    j.scheduler,
    j.nativeIds.join(',') || '-',
    stateText(j),
    j.signal ? j.signal : j.exitCode !== undefined && j.exitCode !== null ? String(j.exitCode) : '-',
    when(j.submittedAt, now),
    j.startedAt ? duration((j.endedAt ?? now) - j.startedAt) : '-',
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('  ');
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

/** One job, as text. */
export function jobText(j: JobInfo): string {
  const L = [
    `job ${j.id}  ${j.name.replace(/\n/g, '\\n')}`,
    `  state      ${stateText(j)}${j.reason ? `  (${j.reason})` : ''}`,
    `  scheduler  ${j.scheduler} ${j.nativeIds.join(', ')} on ${j.host}`,
  ];
  if (j.exitCode !== undefined || j.signal) L.push(`  exit       ${j.exitCode ?? '-'}${j.signal ? ` (${j.signal})` : ''}`);
  L.push(`  submitted  ${new Date(j.submittedAt).toISOString()}`);
  if (j.startedAt) L.push(`  started    ${new Date(j.startedAt).toISOString()}`);
  if (j.endedAt) L.push(`  ended      ${new Date(j.endedAt).toISOString()}${j.startedAt ? ` after ${duration(j.endedAt - j.startedAt)}` : ''}`);
  if (j.array) L.push(`  array      ${j.array.indices} (${j.array.count} tasks${j.array.maxConcurrent ? `, ${j.array.maxConcurrent} at once` : ''})`);
  L.push(`  workdir    ${j.workdir}`, `  stdout     ${j.stdout}`, `  stderr     ${j.stderr}`);
  if (j.stderrTail) L.push('  stderr tail:', ...j.stderrTail.split('\n').map((l) => `    ${l}`));
  return L.join('\n') + '\n';
}

/** Exit status of `submit --wait` / `wait`: 0 when COMPLETED, the exit code of a FAILED command, else 1. */
export function exitFor(j: JobInfo): number {
  if (j.state === 'COMPLETED') return EXIT.OK;
  if (j.state === 'FAILED' && !j.signal && typeof j.exitCode === 'number' && j.exitCode > 0 && j.exitCode < 256) return j.exitCode;
  return EXIT.FAILED;
}

const json = (v: unknown) => JSON.stringify(v) + '\n';

export function registerJobsCommands(program: Command, globals: () => GlobalOptions): void {
  addJobFlags(program.command('submit'))
    .description('submit a job (sbatch-like flags); prints its id')
    .argument('<host>', "where: 'local', an ssh alias, or user@host")
    .argument('[command...]', 'the command and its arguments, after --')
    .option('-a, --array <indices>', 'job array: 0-99, 1-9:2, 1,3,5, with %N to run N at once')
    .option('-o, --output <path>', 'stdout file; %j job id, %a array index, %x name')
    .option('-e, --error <path>', 'stderr file (same placeholders)')
    .option('--script <file>', 'a local script file to run instead of a command')
    .option('--idempotency-key <key>', 'reuse to make a retried submit safe (default: random)')
    .option('-W, --wait', 'wait for the job to end; exit with its exit code')
    .option('--parsable', 'print only the job id')
    .addHelpText(
      'after',
      "\nExamples:\n  clustrix submit mycluster -c 4 --mem 8G -t 2:00:00 -p gpu --gpus 1 -- python train.py --lr 0.1\n  clustrix submit local --array 0-99%10 -- sh -c 'echo $CLUSTRIX_TASK_ID'\n  clustrix submit mycluster -d afterok:mx3k1ab2c9fz --module gcc/12 --script job.sh",
    )
    .action(async (host: string, argv: string[], o: SubmitFlags & { idempotencyKey?: string; wait?: boolean; parsable?: boolean }) => {
      const g = globals();
      let spec: JobSpec;
      try {
        schedulerFlag(o);
        spec = specFromFlags(o, argv, parseHost(host));
      } catch (err) {
        process.stderr.write(`clustrix submit: ${(err as Error).message}\n`);
        process.exitCode = EXIT.USAGE;
        return;
      }
      process.exitCode = await withCluster(parseHost(host), g, async (c, signal) => {
        const job = await c.jobs.submit(spec, {
          signal,
          ...(o.scheduler ? { scheduler: schedulerFlag(o)! } : {}),
          ...(o.idempotencyKey ? { idempotencyKey: o.idempotencyKey } : {}),
        });
        const info = job.info!;
        if (g.json) await out(json({ ...info, existing: job.existing }));
        else if (o.parsable) await out(`${info.id}\n`);
        else
          await out(`Submitted job ${info.id} (${info.scheduler} ${info.nativeIds.join(', ')})${job.existing ? ' [already submitted with this key]' : ''}\n`);
        if (!o.wait) return EXIT.OK;
        const done = await job.wait({ signal });
        if (!g.json && !o.parsable) await out(jobText(done));
        return exitFor(done);
      });
    });

  program
    .command('jobs')
    .description('list jobs, newest first')
    .argument('[host]', "'local' (default), an ssh alias, or user@host")
    .option('--active', 'only jobs not finished')
    .option('--done', 'only finished jobs')
    .option('-s, --state <states>', `comma-separated: ${JOB_STATES.join(',')}`)
    .option('-n, --limit <n>', 'at most n jobs (default 50)', posInt('--limit'))
    .action(async (host: string | undefined, o: { active?: boolean; done?: boolean; state?: string; limit?: number }) => {
      const g = globals();
      const states = o.state?.split(',').map((s) => s.trim().toUpperCase());
      const bad = states?.find((s) => !JOB_STATES.includes(s as JobState));
      if (bad) {
        process.stderr.write(`clustrix jobs: unknown state "${bad}" (use ${JOB_STATES.join(', ')})\n`);
        process.exitCode = EXIT.USAGE;
        return;
      }
      process.exitCode = await withCluster(parseHost(host), g, async (c, signal) => {
        const jobs = await c.jobs.list({
          signal,
          which: o.active ? 'active' : o.done ? 'terminal' : 'all',
          limit: o.limit ?? 50,
          ...(states ? { states: states as JobState[] } : {}),
        });
        await out(g.json ? json(jobs) : jobs.length ? jobsTable(jobs) : 'no jobs\n');
      });
    });

  program
    .command('job')
    .description('show one job: state, exit, times, paths, the tail of stderr')
    .argument('<job>', 'host:id (a bare id is local)')
    .option('--refresh', 'ask the scheduler now instead of the last poll')
    .action(async (operand: string, o: { refresh?: boolean }) => {
      const g = globals();
      const { host, path: id } = parseTarget(operand);
      process.exitCode = await withCluster(host, g, async (c, signal) => {
        const j = await c.jobs.get(id, { signal, refresh: Boolean(o.refresh) });
        await out(g.json ? json(j) : jobText(j));
      });
    });

  program
    .command('logs')
    .description("print a job's stdout (or stderr); -f follows it until the job ends")
    .argument('<job>', 'host:id (a bare id is local)')
    .option('-f, --follow', 'keep printing new output until the job ends')
    .option('--stderr', 'stderr instead of stdout')
    .option('--task <n>', 'array task index (default: the first)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new UsageError(`--task must be a whole number >= 0, got "${v}"`);
      return n;
    })
    .option('--tail <bytes>', 'start this many bytes before the end', posInt('--tail'))
    .action(async (operand: string, o: { follow?: boolean; stderr?: boolean; task?: number; tail?: number }) => {
      const g = globals();
      const { host, path: id } = parseTarget(operand);
      process.exitCode = await withCluster(host, g, async (c, signal) => {
        const s = c.jobs.logs(id, {
          signal,
          stream: o.stderr ? 'stderr' : 'stdout',
          follow: Boolean(o.follow),
          ...(o.task !== undefined ? { task: o.task } : {}),
          ...(o.tail !== undefined ? { tail: o.tail } : {}),
        });
        for await (const chunk of s) await out(Buffer.from(chunk).toString('utf8'));
        await s.result;
      });
    });

  program
    .command('cancel')
    .description('cancel jobs (or some array tasks); cancelling a finished job is not an error')
    .argument('<jobs...>', 'host:id (a bare id is local)')
    .option('--tasks <list>', 'only these array tasks: 1,3,5-9')
    .action(async (operands: string[], o: { tasks?: string }) => {
      const g = globals();
      let tasks: number[] | undefined;
      if (o.tasks) {
        tasks = o.tasks.split(',').flatMap((p) => {
          const m = /^(\d+)(?:-(\d+))?$/.exec(p.trim());
          if (!m) throw new UsageError(`--tasks: "${p}" is not an index or a range`);
          const lo = Number(m[1]);
          const hi = Number(m[2] ?? m[1]);
          return Array.from({ length: Math.max(0, hi - lo + 1) }, (_, i) => lo + i);
        });
      }
      let code: number = EXIT.OK;
      for (const operand of operands) {
        const { host, path: id } = parseTarget(operand);
        const r = await withCluster(host, g, async (c, signal) => {
          const j = await c.jobs.cancel(id, { signal, ...(tasks ? { tasks } : {}) });
          await out(g.json ? json(j) : `${j.id}: ${isTerminal(j.state) ? `already ${j.state}` : 'cancel requested'}\n`);
        });
        if (r !== EXIT.OK) code = r;
      }
      process.exitCode = code;
    });

  program
    .command('wait')
    .description('wait for a job to end; exit with its exit code')
    .argument('<job>', 'host:id (a bare id is local)')
    .option('--timeout <seconds>', 'give up after this long (exit 6)', posInt('--timeout'))
    .action(async (operand: string, o: { timeout?: number }) => {
      const g = globals();
      const { host, path: id } = parseTarget(operand);
      process.exitCode = await withCluster(host, g, async (c, signal) => {
        const j = await c.jobs.job(id).wait({ signal, ...(o.timeout ? { timeoutMs: o.timeout * 1000 } : {}) });
        await out(g.json ? json(j) : jobText(j));
        return exitFor(j);
      });
    });
}
