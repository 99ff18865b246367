/**
 * The steps every function call takes before its job exists: bundle (cached),
 * make sure its dependency environment is built, submit, and upload the
 * bundle only when the cluster does not have it yet. Then, once the job has
 * ended, fetch its result files.
 */
import { randomUUID } from 'node:crypto';
import {
  functionsResults,
  functionsSubmit,
  type EnvLogChunk,
  type EnvSpec,
  type FunctionResultFile,
  type FunctionResultsSummary,
  type JobInfo,
  type ParamsIn,
  type SchedulerName,
} from '../../protocol/index.js';
import { decodeValue } from '../../protocol/values.js';
import type { CallOptions, Connection } from '../connection.js';
import type { EnvsApi } from '../envs.js';
import { ConnectionError, RemoteError } from '../errors.js';
import type { FsApi } from '../fs.js';
import type { JobSpec } from '../jobs.js';
import type { Bundle, BundleCache, BundledPackage, ExternalPackage } from './bundle.js';
import { uploadExternals, type UploadedPackage } from './externals.js';

/** What the job of a call may set (everything but what the call decides: command, array, outputs). */
export type FunctionJob = Omit<JobSpec, 'command' | 'script' | 'array' | 'stdout' | 'stderr' | 'environment'>;

export interface FunctionOptions extends CallOptions, FunctionJob {
  /**
   * Dependencies to build on the cluster (envs.ensure), merged with the
   * packages the bundler found it must not inline (native addons, `external`).
   * When `environment.node` is given it is used as is for Node packages.
   * A string is the hash of an environment already built.
   */
  environment?: EnvSpec | string;
  /** Packages to install on the cluster instead of bundling. */
  external?: string[];
  /**
   * How the external packages reach the cluster: `'registry'` (default) installs
   * the versions installed here from the npm registry; `'upload'` packs the
   * installed packages here and uploads them (for clusters without registry
   * access, or packages that are not on it). Ignored when `environment.node` is given.
   */
  externals?: 'registry' | 'upload';
  scheduler?: SchedulerName;
  /** Reuse to make a retried call safe; default: a fresh UUID per call. */
  idempotencyKey?: string;
  /** Node on the compute nodes (absolute path). Default: the agent's own. */
  node?: string;
  /** Inline source maps so remote stacks point at your sources. Default true. */
  sourcemap?: boolean;
  /** Build log of the dependency environment, when one is built. */
  onLog?: (chunk: EnvLogChunk) => void;
}

/** What a call did before its job ran: useful to see, and what the tests count. */
export interface CallReport {
  bundle: {
    sha256: string;
    bytes: number;
    path: string;
    /** Packages inlined into the bundle. */
    bundled: BundledPackage[];
    /** Packages installed on the cluster instead. */
    external: ExternalPackage[];
    /** True when this call uploaded the bundle (false: the cluster had it). */
    uploaded: boolean;
  };
  /** The dependency environment, when the call needed one. */
  env: { hash: string; path: string; built: boolean } | null;
  /** With `externals: 'upload'`: the packed packages and whether this call uploaded each. */
  packages: UploadedPackage[];
  job: JobInfo;
  /** True when the idempotency key was used before: this is the original job. */
  existing: boolean;
}

export interface CallDeps {
  conn: Connection;
  fs: FsApi;
  envs: EnvsApi;
  bundles: BundleCache;
}

/** The env spec a call needs: the caller's, plus the externals the bundler found (by version, or as uploaded tarballs). */
export function envFor(o: FunctionOptions, bundle: Bundle, uploaded: UploadedPackage[] = []): EnvSpec | null {
  if (typeof o.environment === 'string') return null;
  const spec: EnvSpec = { ...(o.environment ?? {}) };
  if (!spec.node && uploaded.length > 0) spec.node = { tarballs: uploaded.map((p) => p.path), offline: true };
  else if (!spec.node && bundle.external.length > 0) {
    const packages: Record<string, string> = {};
    for (const p of bundle.external) {
      if (!p.version) throw new Error(`external package ${p.name} has no version here (is it installed?); give environment.node to say how to install it`);
      packages[p.name] = p.version;
    }
    spec.node = { packages };
  }
  return Object.keys(spec).length > 0 ? spec : null;
}

function callOpts(o: CallOptions): CallOptions {
  const c: CallOptions = {};
  if (o.signal) c.signal = o.signal;
  return c;
}

function jobPart(o: FunctionOptions): FunctionJob {
  const j: FunctionJob = {};
  for (const k of ['workdir', 'env', 'modules', 'resources', 'dependencies', 'name', 'directives'] as const) {
    if (o[k] !== undefined) (j as Record<string, unknown>)[k] = o[k];
  }
  return j;
}

/**
 * Bundle, build the env, submit (uploading the bundle if the cluster asks
 * for it), retrying once with the same idempotency key if the link drops.
 */
export async function submitCall(
  d: CallDeps,
  module: string | URL,
  exportName: string,
  mode: 'run' | 'map',
  inputs: Uint8Array[],
  o: FunctionOptions & { items?: number; chunkSize?: number; maxConcurrent?: number },
): Promise<CallReport> {
  const bundle = await d.bundles.get(module, { ...(o.external ? { external: o.external } : {}), ...(o.sourcemap === false ? { sourcemap: false } : {}) });
  const wantsUpload = o.externals === 'upload' && typeof o.environment !== 'string' && !o.environment?.node;
  const packages = wantsUpload ? await uploadExternals(d.conn, d.fs, bundle.external, o.signal) : [];
  const envSpec = envFor(o, bundle, packages);
  let env: CallReport['env'] = null;
  const job: JobSpec = { ...jobPart(o) };
  if (typeof o.environment === 'string') job.environment = o.environment;
  else if (envSpec) {
    const r = await d.envs.ensure(envSpec, { ...callOpts(o), ...(o.onLog ? { onLog: o.onLog } : {}) });
    env = { hash: r.hash, path: r.path, built: r.built };
    job.environment = r.hash;
  }
  const params: ParamsIn<typeof functionsSubmit> = {
    bundle: bundle.sha256,
    exportName,
    mode,
    inputs: inputs as ParamsIn<typeof functionsSubmit>['inputs'],
    job: job,
    idempotencyKey: o.idempotencyKey ?? randomUUID(),
  };
  if (o.items !== undefined) params.items = o.items;
  if (o.chunkSize !== undefined) params.chunkSize = o.chunkSize;
  if (o.maxConcurrent !== undefined) params.maxConcurrent = o.maxConcurrent;
  if (o.node) params.node = o.node;
  if (o.scheduler) params.scheduler = o.scheduler;
  let uploaded = false;
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await d.conn.call(functionsSubmit, params, { ...callOpts(o), timeoutMs: 120_000 });
      return {
        bundle: { sha256: bundle.sha256, bytes: bundle.code.length, path: r.bundlePath, bundled: bundle.bundled, external: bundle.external, uploaded },
        env,
        packages,
        job: r.job,
        existing: r.existing,
      };
    } catch (err) {
      const missing = err instanceof RemoteError && err.code === 'NOT_FOUND' && err.details?.missing === 'bundle' && typeof err.details.path === 'string';
      if (missing && !uploaded) {
        await d.fs.writeFile(err.details.path as string, bundle.code, { mkdirs: true, mode: 0o644, ...callOpts(o) });
        uploaded = true;
        continue;
      }
      // Same key: the agent answers the original job if the first attempt got through.
      if (err instanceof ConnectionError && err.kind === 'closed' && attempt < 1) continue;
      throw err;
    }
  }
}

/** Outcomes of a finished call by task (`undefined` for run; a string says why a task has none), and the call's record. */
export interface FetchedResults {
  results: Map<number | undefined, FunctionResultFile | string>;
  summary: FunctionResultsSummary | null;
}

export async function fetchResults(conn: Connection, jobId: string, o: CallOptions): Promise<FetchedResults> {
  const out = new Map<number | undefined, FunctionResultFile | string>();
  const parts = new Map<number | undefined, Uint8Array[]>();
  const s = conn.stream(functionsResults, { id: jobId }, { ...callOpts(o), timeoutMs: 0 });
  for await (const c of s) {
    if (c.missing !== undefined) {
      out.set(c.task, c.missing);
      continue;
    }
    const list = parts.get(c.task) ?? [];
    list.push(c.bytes!);
    parts.set(c.task, list);
    if (!c.more) {
      parts.delete(c.task);
      out.set(c.task, decodeValue(list.length === 1 ? list[0]! : Buffer.concat(list)) as FunctionResultFile);
    }
  }
  return { results: out, summary: await s.result };
}
