/**
 * From the validated spec (protocol/methods/jobs.ts already parsed sizes,
 * durations and arrays) to what the agent records and submits: defaults,
 * paths resolved, output templates expanded, cross-field checks with errors
 * naming the field, and the split of big arrays into chunks.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { formatIndices, ProtocolError, type JobSpecParsed, type NormalizedJobSpec } from '../../protocol/index.js';
import { isProgression, schedulerJobName } from './adapters/common.js';
import type { ArrayLimits } from './adapters/types.js';

function bad(field: string, message: string): ProtocolError {
  return new ProtocolError('INVALID_PARAMS', `jobs.submit: params.spec.${field}: ${message}`, { issues: [{ path: `params.spec.${field}`, message }] });
}

/** `~`, `~/x` and relative paths against the user's home (relative output paths: against the workdir). */
export function resolvePath(p: string, home: string, base = home): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return join(home, p.slice(2));
  return isAbsolute(p) ? p : join(base, p);
}

/**
 * Output path template → absolute, `%j`/`{job}` = id, `%x`/`{name}` = name,
 * `%a`/`{task}` kept as `{task}` (the wrapper fills it in), `%%` = `%`.
 */
export function expandTemplate(t: string, id: string, name: string): string {
  return t.replace(/%%|%j|%x|%a|\{job\}|\{name\}|\{task\}/g, (m) => {
    switch (m) {
      case '%%':
        return '%';
      case '%j':
      case '{job}':
        return id;
      case '%x':
      case '{name}':
        return name;
      default:
        return '{task}';
    }
  });
}

export interface NormalizeContext {
  id: string;
  jobDir: string;
  home: string;
  /** Where envs.ensure builds environments (`<root>/envs`). */
  envsDir: string;
}

/** An env hash or path → the env dir, which must be a finished environment (ready.json). */
function resolveEnvironment(ref: string, envsDir: string): string {
  const dir = ref.startsWith('/') ? ref : join(envsDir, ref);
  if (!existsSync(join(dir, 'ready.json')) || !existsSync(join(dir, 'activate'))) {
    throw new ProtocolError('NOT_FOUND', `jobs.submit: params.spec.environment: no finished environment at ${dir}; build it with envs.ensure first`, {
      path: dir,
    });
  }
  return dir;
}

export interface Normalized {
  spec: NormalizedJobSpec;
  /** Array indices (clustrix numbering), sorted; absent for a plain job. */
  indices?: number[];
}

export function normalizeSpec(s: JobSpecParsed, ctx: NormalizeContext): Normalized {
  const workdir = s.workdir ? resolvePath(s.workdir, ctx.home) : ctx.home;
  const name = s.name ?? (s.command ? s.command[0]!.split('/').pop() || 'job' : 'script');
  const isArray = s.array !== undefined;
  const templ = (field: 'stdout' | 'stderr', dflt: string) => {
    const raw = s[field];
    if (raw === undefined) return dflt;
    const t = expandTemplate(raw, ctx.id, schedulerJobName(name));
    if (!isArray && t.includes('{task}')) throw bad(field, '%a / {task} (the array index) only makes sense for array jobs');
    return resolvePath(t, ctx.home, workdir);
  };
  const stdout = templ('stdout', isArray ? join(ctx.jobDir, 'tasks', '{task}.stdout') : join(ctx.jobDir, 'stdout'));
  const stderr = templ('stderr', isArray ? join(ctx.jobDir, 'tasks', '{task}.stderr') : join(ctx.jobDir, 'stderr'));

  const r = s.resources ?? {};
  if (r.partition !== undefined && r.queue !== undefined && r.partition !== r.queue)
    throw bad('resources.queue', `queue "${r.queue}" and partition "${r.partition}" name the same thing; give one`);
  const resources: NormalizedJobSpec['resources'] = {};
  if (r.cpus !== undefined) resources.cpus = r.cpus;
  if (r.memory !== undefined) resources.memoryMb = r.memory;
  if (r.time !== undefined) resources.timeSec = r.time;
  if (r.gpus !== undefined) resources.gpus = r.gpus;
  if (r.nodes !== undefined) resources.nodes = r.nodes;
  if (r.tasks !== undefined) resources.tasks = r.tasks;
  const partition = r.partition ?? r.queue;
  if (partition !== undefined) resources.partition = partition;
  if (r.account !== undefined) resources.account = r.account;
  if (r.qos !== undefined) resources.qos = r.qos;
  if (r.constraint !== undefined) resources.constraint = r.constraint;
  if (r.exclusive) resources.exclusive = true;

  const spec: NormalizedJobSpec = {
    workdir,
    env: s.env ?? {},
    modules: s.modules ?? [],
    resources,
    dependencies: { afterok: s.dependencies?.afterok ?? [], afterany: s.dependencies?.afterany ?? [] },
    name,
    stdout,
    stderr,
    directives: s.directives ?? [],
  };
  if (s.command) spec.command = s.command;
  else spec.script = s.script!;
  if (s.environment !== undefined) spec.environment = resolveEnvironment(s.environment, ctx.envsDir);
  if (s.array) {
    spec.array = { indices: formatIndices(s.array.indices), count: s.array.indices.length, maxConcurrent: s.array.maxConcurrent };
    return { spec, indices: s.array.indices };
  }
  return { spec };
}

/** One planned submission of an array. */
export interface PlannedChunk {
  /** clustrix indices. */
  indices: number[];
  /** Native indices submitted. */
  native: number[];
  /** clustrix = native + offset, unless `table` maps native (base-relative position) → clustrix. */
  offset: number;
  table?: number[];
}

/**
 * Split an array so each submission fits the site's limits. When the whole
 * array fits as is, native indices ARE the clustrix indices (the scheduler's
 * task id equals the user's). Otherwise each chunk is renumbered from the
 * scheduler's first index, by an offset when its indices are consecutive, by
 * a lookup table when they are not.
 */
export function planArray(indices: number[], limits: ArrayLimits, base: 0 | 1, rangesOnly: boolean): PlannedChunk[] {
  const last = indices[indices.length - 1]!;
  if (indices.length <= limits.maxCount && last <= limits.maxIndex && indices[0]! >= base && (!rangesOnly || isProgression(indices))) {
    return [{ indices, native: indices, offset: 0 }];
  }
  const size = Math.max(1, Math.min(limits.maxCount, limits.maxIndex - base + 1));
  const out: PlannedChunk[] = [];
  for (let i = 0; i < indices.length; i += size) {
    const g = indices.slice(i, i + size);
    const native = g.map((_, k) => base + k);
    const consecutive = g[g.length - 1]! - g[0]! === g.length - 1;
    out.push(consecutive ? { indices: g, native, offset: g[0]! - base } : { indices: g, native, offset: 0, table: g });
  }
  return out;
}
