/**
 * `clustrix run` and `clustrix map`: call an export of a local module on a
 * cluster (or `local`) as a job. Arguments are JSON words; progress events go
 * to stderr while the job runs; the result goes to stdout.
 */
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import type { Command } from 'commander';
import type { ProgressEvent } from '../../protocol/index.js';
import { ValueError } from '../../protocol/values.js';
import type { Cluster } from '../cluster.js';
import { BundleError, FunctionJobError, type CallReport, type FunctionOptions, type MapOptions } from '../functions/index.js';
import { EXIT, UsageError } from './exit.js';
import { addJobFlags, collect, jobFieldsFromFlags, posInt, schedulerFlag, type JobFlags } from './job-flags.js';
import { out, withCluster, type GlobalOptions } from './session.js';
import { parseHost } from './target.js';

interface FunctionFlags extends JobFlags {
  external?: string[];
  uploadExternals?: boolean;
  node?: string;
  quiet?: boolean;
  argsFile?: string;
}

/** `./train.ts#fit` → module and export (default export: `default`). */
export function parseFunctionRef(ref: string): { module: string; exportName: string } {
  const hash = ref.lastIndexOf('#');
  const module = hash < 0 ? ref : ref.slice(0, hash);
  const exportName = hash < 0 ? 'default' : ref.slice(hash + 1);
  if (!module) throw new UsageError(`"${ref}" names no module: use path/to/module.ts#exportName`);
  if (!/^[A-Za-z_$][\w$]*$/.test(exportName)) throw new UsageError(`"${exportName}" is not an export name: use path/to/module.ts#exportName`);
  return { module, exportName };
}

/** A CLI word → a value: JSON when it parses (numbers, objects, "quoted"), else the word as a string. */
export function parseArgWord(w: string): unknown {
  try {
    return JSON.parse(w) as unknown;
  } catch {
    return w;
  }
}

/** JSON for values JSON cannot say: bigint as a string, Map as [key, value] pairs, Set as an array, bytes as base64; undefined as null. */
export function toJson(v: unknown): string {
  const text = JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === 'bigint') return x.toString();
    if (x instanceof Map) return [...x.entries()];
    if (x instanceof Set) return [...x];
    if (x instanceof Uint8Array) return Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('base64');
    return x;
  }) as string | undefined;
  return text ?? 'null';
}

function options(o: FunctionFlags, host: string, signal: AbortSignal): FunctionOptions {
  const f: FunctionOptions = { ...jobFieldsFromFlags(o, host), signal };
  const sched = schedulerFlag(o);
  if (sched) f.scheduler = sched;
  if (o.external?.length) f.external = o.external;
  if (o.uploadExternals) f.externals = 'upload';
  if (o.node) f.node = o.node;
  if (!o.quiet) f.onLog = (c) => c.lines.forEach((l) => process.stderr.write(`env ${c.stream}: ${l}\n`));
  return f;
}

function describeReport(r: CallReport | null): string {
  if (!r) return 'nothing to run';
  const b = r.bundle;
  const pk = (ps: Array<{ name: string; version: string | null }>) => ps.map((p) => `${p.name}@${p.version ?? '?'}`).join(', ');
  const parts = [
    `bundle ${b.sha256.slice(0, 12)} (${(b.bytes / 1024).toFixed(0)} KiB${b.bundled.length ? `; bundled ${pk(b.bundled)}` : ''}${b.external.length ? `; external ${pk(b.external)}` : ''}) ${b.uploaded ? 'uploaded' : 'already there'}`,
  ];
  if (r.env) parts.push(`env ${r.env.hash.slice(0, 12)} ${r.env.built ? 'built' : 'reused'}`);
  parts.push(`job ${r.job.id} (${r.job.scheduler} ${r.job.nativeIds.join(', ')})${r.existing ? ' [already submitted]' : ''}`);
  return parts.join('; ');
}

function progressLine(ev: ProgressEvent): string {
  const where = ev.item !== undefined ? ` items[${ev.item}]` : ev.task !== undefined ? ` task ${ev.task}` : '';
  return `progress${where}: ${ev.raw !== undefined ? ev.raw : toJson(ev.data)}\n`;
}

/** Remote exceptions and job failures → stderr and exit status 1; usage-like ones → 2. */
function failure(err: unknown): number {
  if (err instanceof ValueError || err instanceof BundleError) {
    process.stderr.write(`clustrix: ${err.message}\n`);
    return EXIT.USAGE;
  }
  if (err instanceof FunctionJobError) {
    process.stderr.write(`clustrix: ${err.message}\n`);
    return EXIT.FAILED;
  }
  if (err && typeof err === 'object' && 'clustrix' in err) {
    // The function threw: show it the way node would have.
    process.stderr.write(`${(err as { stack?: string }).stack ?? String(err)}\n`);
    return EXIT.FAILED;
  }
  throw err;
}

async function follow(events: AsyncIterable<ProgressEvent>, quiet: boolean | undefined): Promise<void> {
  if (quiet) return;
  try {
    for await (const ev of events) process.stderr.write(progressLine(ev));
  } catch {
    /* the result path reports failures */
  }
}

export function registerFunctionCommands(program: Command, globals: () => GlobalOptions): void {
  const common = (cmd: Command) =>
    addJobFlags(cmd)
      .option('--external <package>', 'install this package on the cluster instead of bundling it (repeatable)', collect)
      .option('--upload-externals', 'pack the external packages installed here and upload them (cluster without registry access)')
      .option('--node <path>', 'node binary on the compute nodes (default: the agent’s)')
      .option('--quiet', 'no progress or build lines on stderr');

  common(program.command('run'))
    .description('run an export of a local module as a job; prints its result')
    .argument('<host>', "where: 'local', an ssh alias, or user@host")
    .argument('<function>', 'path/to/module.ts#exportName')
    .argument('[args...]', 'arguments, each a JSON value (a word that is not JSON is a string)')
    .option('--args-file <file>', 'arguments as a JSON array in a file (- for stdin)')
    .addHelpText(
      'after',
      `\nExamples:\n  clustrix run local ./train.ts#train '{"lr": 0.1}' 10\n  clustrix run mycluster -c 8 --mem 16G -t 2h ./sim.ts#simulate --args-file params.json\n\nExit status: 0 when the function returned, 1 when it threw or its job died (stderr says why).`,
    )
    .action(async (host: string, ref: string, words: string[], o: FunctionFlags) => {
      const g = globals();
      let fn: { module: string; exportName: string };
      let args: unknown[];
      try {
        fn = parseFunctionRef(ref);
        if (o.argsFile) {
          if (words.length) throw new UsageError('give arguments either as words or with --args-file, not both');
          const parsed = JSON.parse(readFileSync(o.argsFile === '-' ? 0 : o.argsFile, 'utf8')) as unknown;
          if (!Array.isArray(parsed)) throw new UsageError('--args-file must hold a JSON array of arguments');
          args = parsed;
        } else args = words.map(parseArgWord);
      } catch (err) {
        process.stderr.write(`clustrix run: ${(err as Error).message}\n`);
        process.exitCode = EXIT.USAGE;
        return;
      }
      process.exitCode = await withCluster(parseHost(host), g, async (c: Cluster, signal) => {
        const call = c.run(fn.module, fn.exportName, args, options(o, parseHost(host), signal));
        void call.submitted.then(
          (r) => !o.quiet && process.stderr.write(`clustrix: ${describeReport(r)}\n`),
          () => {},
        );
        await follow(call, o.quiet);
        try {
          const value = await call;
          await out(g.json ? `${toJson(value)}\n` : `${inspect(value, { depth: 8, colors: process.stdout.isTTY })}\n`);
          return EXIT.OK;
        } catch (err) {
          return failure(err);
        }
      });
    });

  common(program.command('map'))
    .description('call an export once per item, as ONE job array; prints the results in input order')
    .argument('<host>', "where: 'local', an ssh alias, or user@host")
    .argument('<function>', 'path/to/module.ts#exportName')
    .requiredOption('--items <file>', 'the items: a JSON array in a file (- for stdin)')
    .option('--chunk-size <n>', 'items per array task (default: 1, or more to keep at most 1,000 tasks)', posInt('--chunk-size'))
    .option('--max-concurrent <n>', 'array tasks running at once', posInt('--max-concurrent'))
    .addHelpText(
      'after',
      `\nExamples:\n  seq 0 99 | jq -s . | clustrix map local ./score.ts#score --items -\n  clustrix map mycluster --items cases.json --chunk-size 10 --max-concurrent 50 ./sim.ts#simulate\n\nOutput: one line per item, "[i] value" or "[i] ERROR …" (--json: [{ok, value|error}]).\nExit status: 0 when every item returned, 1 when some failed.`,
    )
    .action(async (host: string, ref: string, o: FunctionFlags & { items: string; chunkSize?: number; maxConcurrent?: number }) => {
      const g = globals();
      let fn: { module: string; exportName: string };
      let items: unknown[];
      try {
        fn = parseFunctionRef(ref);
        const parsed = JSON.parse(readFileSync(o.items === '-' ? 0 : o.items, 'utf8')) as unknown;
        if (!Array.isArray(parsed)) throw new UsageError('--items must hold a JSON array');
        items = parsed;
      } catch (err) {
        process.stderr.write(`clustrix map: ${(err as Error).message}\n`);
        process.exitCode = EXIT.USAGE;
        return;
      }
      process.exitCode = await withCluster(parseHost(host), g, async (c: Cluster, signal) => {
        const mo: MapOptions = options(o, parseHost(host), signal);
        if (o.chunkSize) mo.chunkSize = o.chunkSize;
        if (o.maxConcurrent) mo.maxConcurrent = o.maxConcurrent;
        const call = c.map(fn.module, fn.exportName, items, mo);
        void call.submitted.then(
          (r) => !o.quiet && process.stderr.write(`clustrix: ${describeReport(r)}\n`),
          () => {},
        );
        await follow(call, o.quiet);
        let settled;
        try {
          settled = await call.settled();
        } catch (err) {
          return failure(err);
        }
        const errText = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));
        if (g.json) await out(`${toJson(settled.map((s) => (s.ok ? s : { ok: false, error: errText(s.error) })))}\n`);
        else for (const [i, s] of settled.entries()) await out(`[${i}] ${s.ok ? toJson(s.value) : `ERROR ${errText(s.error)}`}\n`);
        return settled.every((s) => s.ok) ? EXIT.OK : EXIT.FAILED;
      });
    });
}
