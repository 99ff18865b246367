/**
 * The job flags the CLI shares between `submit`, `run` and `map` (sbatch's
 * names), and their translation into a JobSpec. The agent validates the
 * result again; these checks only give earlier, friendlier usage errors.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { SCHEDULERS, type SchedulerName } from '../../protocol/index.js';
import type { JobSpec } from '../jobs.js';
import { UsageError } from './exit.js';
import { localPath } from './target.js';

export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

export function posInt(name: string) {
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

/** Flags every job-making command takes. */
export interface JobFlags {
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
  dependency?: string;
  module?: string[];
  env?: string[];
  chdir?: string;
  directive?: string[];
  scheduler?: string;
}

/** `submit`'s own flags on top. */
export interface SubmitFlags extends JobFlags {
  array?: string;
  output?: string;
  error?: string;
  script?: string;
}

/** Register the shared job flags on a command. */
export function addJobFlags(cmd: Command): Command {
  return cmd
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
    .option('-d, --dependency <deps>', 'afterok:ID[:ID…][,afterany:ID…] (clustrix or scheduler ids)')
    .option('--module <name>', 'module to load (repeatable, in order)', collect)
    .option('--env <NAME=VALUE>', 'environment variable for the job (repeatable)', collect)
    .option('-D, --chdir <dir>', 'working directory (default: home; on local, the current directory, like sbatch)')
    .option('--directive <arg>', 'extra raw argument for sbatch/qsub/bsub (repeatable)', collect)
    .option('--scheduler <name>', `force a scheduler: ${SCHEDULERS.join(', ')}`);
}

/** The scheduler flag, checked. */
export function schedulerFlag(o: JobFlags): SchedulerName | undefined {
  if (o.scheduler === undefined) return undefined;
  if (!SCHEDULERS.includes(o.scheduler as SchedulerName)) throw new UsageError(`--scheduler must be one of ${SCHEDULERS.join(', ')}`);
  return o.scheduler as SchedulerName;
}

/**
 * The shared flags → the job fields they set (no command, array or outputs).
 * On the local host a job starts in the current directory, as sbatch's do
 * (and a relative -D is relative to it); on a cluster, in home.
 */
export function jobFieldsFromFlags(o: JobFlags, host: string): JobSpec {
  const spec = {} as JobSpec;
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
  if (host === 'local') spec.workdir = o.chdir ? localPath(o.chdir) : process.cwd();
  else if (o.chdir) spec.workdir = o.chdir;
  if (o.directive?.length) spec.directives = o.directive;
  return spec;
}

/** CLI flags + trailing argv → a JobSpec (the agent validates it again). */
export function specFromFlags(o: SubmitFlags, argv: string[], host: string): JobSpec {
  if (o.script && argv.length) throw new UsageError('give either --script FILE or a command after --, not both');
  if (!o.script && argv.length === 0) throw new UsageError('nothing to run: add -- COMMAND [ARGS…] or --script FILE');
  const spec: JobSpec = { ...(o.script ? { script: readFileSync(o.script, 'utf8') } : { command: argv }), ...jobFieldsFromFlags(o, host) };
  if (o.array) spec.array = o.array;
  if (o.output) spec.stdout = o.output;
  if (o.error) spec.stderr = o.error;
  return spec;
}
