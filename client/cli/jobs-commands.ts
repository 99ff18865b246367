/**
 * Job commands: submit (sbatch-like flags), jobs (table), job (one job),
 * logs [-f], cancel, wait. Jobs are named `host:id` (a bare id is local).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { isTerminal, JOB_STATES, SCHEDULERS, type JobInfo, type JobState, type SchedulerName } from '../../protocol/index.js';
import type { JobSpec } from '../jobs.js';
import { EXIT, UsageError } from './exit.js';
import { out, withCluster, type GlobalOptions } from './session.js';
import { parseHost, parseTarget } from './target.js';

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

function posInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name} must be a whole number >= 1, got "${v}"`);
    return n;
  };
}

/** sbatch's --dependency syntax: afterok:ID[:ID…][,afterany:ID…]. */
export function parseDependency(s: string): { afterok?: string[]; afterany?: string[] } {
  const out: { afterok?: string[]; afterany?: string[] } = {};
  for (const part of s.split(',')) {
    const [kind, ...ids] = part.split(':');
    if ((kind !== 'afterok' && kind !== 'afterany') || ids.length === 0 || ids.some((x) => !x)) {
      throw new UsageError(`--dependency: "${part}" is not afterok:ID[:ID…] or afterany:ID[:ID…]`);
    }
    out[kind] = [...(out[kind] ?? []), ...ids];
  }
  return out;
}

export interface SubmitFlags {
  jobName?: string;
  cpusPerTask?: number;
  mem?: string;
  time?: string;
  partition?: string;
  account?: string;
  qos?: string;
  constraint?: string;
  gpus?: string;
  nodes?: number;
  ntasks?: number;
  exclusive?: boolean;
  array?: string;
  dependency?: string;
  module?: string[];
  env?: string[];
  chdir?: string;
  output?: string;
  error?: string;
  script?: string;
  directive?: string[];
}

/** CLI flags + trailing argv → a JobSpec (the agent validates it again). */
export function specFromFlags(o: SubmitFlags, argv: string[]): JobSpec {
  if (o.script && argv.length) throw new UsageError('give either --script FILE or a command after --, not both');
  if (!o.script && argv.length === 0) throw new UsageError('nothing to run: add -- COMMAND [ARGS…] or --script FILE');
  const spec: JobSpec = o.script ? { script: readFileSync(o.script, 'utf8') } : { command: argv };
  if (o.jobName) spec.name = o.jobName;
  const r: NonNullable<JobSpec['resources']> = {};
  if (o.cpusPerTask !== undefined) r.cpus = o.cpusPerTask;
  if (o.mem) r.memory = o.mem;
  if (o.time) r.time = o.time;
  if (o.partition) r.partition = o.partition;
  if (o.account) r.account = o.account;
  if (o.qos) r.qos = o.qos;
  if (o.constraint) r.constraint = o.constraint;
  if (o.gpus) r.gpus = /^\d+$/.test(o.gpus) ? Number(o.gpus) : o.gpus;
  if (o.nodes !== undefined) r.nodes = o.nodes;
  if (o.ntasks !== undefined) r.tasks = o.ntasks;
  if (o.exclusive) r.exclusive = true;
  if (Object.keys(r).length) spec.resources = r;
  if (o.array) spec.array = o.array;
  if (o.dependency) spec.dependencies = parseDependency(o.dependency);
  if (o.module?.length) spec.modules = o.module;
  if (o.env?.length) {
    spec.env = {};
    for (const kv of o.env) {
      const eq = kv.indexOf('=');
      if (eq <= 0) throw new UsageError(`--env: "${kv}" is not NAME=VALUE`);
      spec.env[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
  }
  if (o.chdir) spec.workdir = o.chdir;
  if (o.output) spec.stdout = o.output;
  if (o.error) spec.stderr = o.error;
  if (o.directive?.length) spec.directives = o.directive;
  return spec;
}

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
  program
    .command('submit')
    .description('submit a job (sbatch-like flags); prints its id')
    .argument('<host>', "where: 'local', an ssh alias, or user@host")
    .argument('[command...]', 'the command and its arguments, after --')
    .option('-J, --job-name <name>', 'job name')
    .option('-c, --cpus-per-task <n>', 'CPUs per task', posInt('--cpus-per-task'))
    .option('--mem <size>', 'memory per node: 500M, 4G')
    .option('-t, --time <time>', 'time limit: minutes, MM:SS, HH:MM:SS, D-HH:MM:SS, 90m, 2h')
    .option('-p, --partition <name>', 'partition / queue')
    .option('-A, --account <name>', 'account to charge')
    .option('-q, --qos <name>', 'quality of service')
    .option('-C, --constraint <features>', 'node features')
    .option('--gpus <n>', 'GPUs: a count or type:count')
    .option('-N, --nodes <n>', 'nodes', posInt('--nodes'))
    .option('-n, --ntasks <n>', 'tasks', posInt('--ntasks'))
    .option('--exclusive', 'whole nodes')
    .option('-a, --array <indices>', 'job array: 0-99, 1-9:2, 1,3,5, with %N to run N at once')
    .option('-d, --dependency <deps>', 'afterok:ID[:ID…][,afterany:ID…] (clustrix or scheduler ids)')
    .option('--module <name>', 'module to load (repeatable, in order)', collect)
    .option('--env <NAME=VALUE>', 'environment variable for the job (repeatable)', collect)
    .option('-D, --chdir <dir>', 'working directory (default: home)')
    .option('-o, --output <path>', 'stdout file; %j job id, %a array index, %x name')
    .option('-e, --error <path>', 'stderr file (same placeholders)')
    .option('--script <file>', 'a local script file to run instead of a command')
    .option('--directive <arg>', 'extra raw argument for sbatch/qsub/bsub (repeatable)', collect)
    .option('--scheduler <name>', `force a scheduler: ${SCHEDULERS.join(', ')}`)
    .option('--idempotency-key <key>', 'reuse to make a retried submit safe (default: random)')
    .option('-W, --wait', 'wait for the job to end; exit with its exit code')
    .option('--parsable', 'print only the job id')
    .addHelpText(
      'after',
      "\nExamples:\n  clustrix submit mycluster -c 4 --mem 8G -t 2:00:00 -p gpu --gpus 1 -- python train.py --lr 0.1\n  clustrix submit local --array 0-99%10 -- sh -c 'echo $CLUSTRIX_TASK_ID'\n  clustrix submit mycluster -d afterok:mx3k1ab2c9fz --module gcc/12 --script job.sh",
    )
    .action(async (host: string, argv: string[], o: SubmitFlags & { scheduler?: string; idempotencyKey?: string; wait?: boolean; parsable?: boolean }) => {
      const g = globals();
      let spec: JobSpec;
      try {
        if (o.scheduler && !SCHEDULERS.includes(o.scheduler as SchedulerName)) throw new UsageError(`--scheduler must be one of ${SCHEDULERS.join(', ')}`);
        spec = specFromFlags(o, argv);
      } catch (err) {
        process.stderr.write(`clustrix submit: ${(err as Error).message}\n`);
        process.exitCode = EXIT.USAGE;
        return;
      }
      process.exitCode = await withCluster(parseHost(host), g, async (c, signal) => {
        const job = await c.jobs.submit(spec, {
          signal,
          ...(o.scheduler ? { scheduler: o.scheduler as SchedulerName } : {}),
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
