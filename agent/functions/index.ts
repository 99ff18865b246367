/**
 * functions.submit / functions.results: a call becomes a job (one job array
 * for `map`) whose command runs the uploaded bundle with node:
 *
 *   node --enable-source-maps <root>/bundles/<sha256>.mjs --clustrix-fn <export> <mode>
 *
 * The bundle's own runner (client/functions/runtime/runner.ts, bundled in by
 * the client) reads `$CLUSTRIX_JOB_DIR/fn/input-<task>.bin` and writes
 * `fn/result-<task>.bin` (temp + rename). The agent stores and returns those
 * bytes; it never decodes arguments or results.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as v from 'valibot';
import {
  FUNCTION_RESULT_PART_BYTES,
  functionsResults,
  functionsSubmit,
  isTerminal,
  JobSpecSchema,
  parseParams,
  ProtocolError,
  jobsSubmit,
  type FunctionResultChunk,
  type ParamsOut,
} from '../../protocol/index.js';
import type { JobService } from '../jobs/service.js';
import { readJson } from '../jobs/store.js';
import { taskKey } from '../jobs/wrapper.js';
import type { Registry } from '../registry.js';

export interface FunctionHandlerOptions {
  jobs: JobService;
  /** Content-addressed bundles: `<dir>/<sha256>.mjs`. Default `<root>/bundles`. */
  bundlesDir: string;
  /** Node binary for the jobs when the call names none. */
  node: string;
}

/** Bundle hashes this agent has checked against their file's content. */
const verified = new Set<string>();

function bundlePathOf(o: FunctionHandlerOptions, sha: string): string {
  const path = join(o.bundlesDir, `${sha}.mjs`);
  if (!existsSync(path)) {
    throw new ProtocolError('NOT_FOUND', `function bundle ${sha.slice(0, 12)}… is not on the cluster yet: upload it to ${path}`, { missing: 'bundle', path });
  }
  if (!verified.has(sha)) {
    const actual = createHash('sha256').update(readFileSync(path)).digest('hex');
    if (actual !== sha) {
      // A torn or tampered upload: remove it so the client uploads it again.
      rmSync(path, { force: true });
      throw new ProtocolError('NOT_FOUND', `function bundle ${sha.slice(0, 12)}… on the cluster did not match its hash and was removed: upload it again`, {
        missing: 'bundle',
        path,
      });
    }
    verified.add(sha);
  }
  return path;
}

type SubmitParamsOut = ParamsOut<typeof functionsSubmit>;

/** The job spec of a call (validated by the jobs schema, like any job). */
export function functionJobSpec(p: SubmitParamsOut, bundlePath: string, node: string): v.InferInput<typeof JobSpecSchema> {
  const job = p.job as Record<string, unknown>;
  const spec: Record<string, unknown> = {
    ...job,
    command: [p.node ?? node, '--enable-source-maps', bundlePath, '--clustrix-fn', p.exportName, p.mode],
    name: job.name ?? `fn-${p.exportName}`,
  };
  if (p.mode === 'map') spec.array = { size: p.inputs.length, maxConcurrent: p.maxConcurrent };
  return spec;
}

export function registerFunctionHandlers(registry: Registry, o: FunctionHandlerOptions): void {
  registry.unary(functionsSubmit, async (p) => {
    const bundlePath = bundlePathOf(o, p.bundle);
    const raw = { spec: functionJobSpec(p, bundlePath, o.node), idempotencyKey: p.idempotencyKey, ...(p.scheduler ? { scheduler: p.scheduler } : {}) };
    let parsed: ParamsOut<typeof jobsSubmit>;
    try {
      parsed = parseParams(jobsSubmit, raw);
    } catch (err) {
      const e = err as ProtocolError;
      throw new ProtocolError('INVALID_PARAMS', e.message.replace(/^jobs\.submit: params\.spec\./, 'functions.submit: params.job.'), e.details);
    }
    const files: Record<string, Uint8Array | string> = {
      'fn/call.json': JSON.stringify({
        v: 1,
        bundle: p.bundle,
        exportName: p.exportName,
        mode: p.mode,
        tasks: p.inputs.length,
        items: p.items ?? null,
        chunkSize: p.chunkSize ?? null,
      }),
    };
    p.inputs.forEach((bytes, i) => {
      files[`fn/input-${p.mode === 'map' ? i : 'job'}.bin`] = bytes;
    });
    const r = await o.jobs.submit(parsed, files);
    return { job: r.job, existing: r.existing, bundlePath };
  });

  registry.stream(functionsResults, async (p, ctx) => {
    const rec = o.jobs.mustFind(p.id);
    const dir = join(o.jobs.store.jobDir(rec.id), 'fn');
    const call = readJson<{ mode?: 'run' | 'map'; items?: number | null; chunkSize?: number | null }>(join(dir, 'call.json'));
    if (!call) throw new ProtocolError('INVALID_PARAMS', `functions.results: job ${rec.id} is not a function call`);
    const tasks: Array<number | undefined> = rec.spec.array ? Array.from({ length: rec.spec.array.count }, (_, i) => i) : [undefined];
    const pending = new Set(tasks);
    const deadline = Date.now() + p.graceMs;
    let missing = 0;
    const sendFile = async (task: number | undefined, bytes: Buffer) => {
      for (let off = 0; off === 0 || off < bytes.length; off += FUNCTION_RESULT_PART_BYTES) {
        const part = bytes.subarray(off, off + FUNCTION_RESULT_PART_BYTES);
        const chunk: FunctionResultChunk = { bytes: part };
        if (task !== undefined) chunk.task = task;
        if (off + FUNCTION_RESULT_PART_BYTES < bytes.length) chunk.more = true;
        await ctx.send(chunk);
      }
    };
    const sendMissing = async (task: number | undefined, why: string) => {
      const chunk: FunctionResultChunk = { missing: why };
      if (task !== undefined) chunk.task = task;
      await ctx.send(chunk);
      missing++;
    };
    for (let pass = 0; ; pass++) {
      if (ctx.signal.aborted) throw new ProtocolError('CANCELLED', 'functions.results cancelled');
      // Listing the directory revalidates NFS's cached view of it before each pass.
      const present = new Set(safeList(dir));
      const now = o.jobs.store.read(rec.id) ?? rec;
      for (const task of [...pending]) {
        const name = `result-${taskKey(task)}.bin`;
        if (!present.has(name)) {
          // The runner writes its result, then exits 0 or 1: any other ending means there is none to wait for.
          const t = now.tasks[taskKey(task)];
          if (t && isTerminal(t.state) && (t.signal || (t.exitCode !== 0 && t.exitCode !== 1))) {
            pending.delete(task);
            await sendMissing(
              task,
              `the task ended (${t.state}${t.exitCode != null ? `, exit ${t.exitCode}` : ''}${t.signal ? `, ${t.signal}` : ''}) without writing a result`,
            );
          }
          continue;
        }
        let bytes: Buffer;
        try {
          bytes = readFileSync(join(dir, name));
        } catch {
          continue;
        }
        pending.delete(task);
        await sendFile(task, bytes);
      }
      if (pending.size === 0) break;
      // Not finished: answer what is there (the caller asks after the job ended). Finished: wait out NFS, then give up.
      if (!isTerminal(now.state) || Date.now() >= deadline) {
        for (const task of pending) {
          const t = now.tasks[taskKey(task)];
          const why = !isTerminal(now.state)
            ? `the job is ${now.state}: no result yet`
            : t?.startedAt === undefined && t?.state !== 'COMPLETED' && t?.state !== 'FAILED'
              ? `the task never ran (${t?.state ?? now.state})`
              : `the task ended (${t?.state ?? now.state}${t?.exitCode != null ? `, exit ${t.exitCode}` : ''}) without writing a result`;
          await sendMissing(task, why);
        }
        break;
      }
      await new Promise((r) => setTimeout(r, Math.min(1000, 100 * 2 ** Math.min(pass, 4))));
    }
    return { tasks: tasks.length, missing, mode: call.mode ?? (rec.spec.array ? 'map' : 'run'), items: call.items ?? null, chunkSize: call.chunkSize ?? null };
  });
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
