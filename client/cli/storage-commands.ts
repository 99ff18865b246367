/** `clustrix storage [host] [--verify]` and `clustrix env ensure <spec.json>`. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  parseDurationSec,
  SCHEDULERS,
  type EnvSpec,
  type SchedulerName,
  type StorageLocation,
  type StorageProbe,
  type StorageReport,
  type StorageVerifyProgress,
} from '../../protocol/index.js';
import { RemoteError } from '../errors.js';
import { verifyStorage, type VerifyOptions } from '../storage.js';
import { EXIT, UsageError } from './exit.js';
import { humanSize } from './format.js';
import { out, withCluster, type GlobalOptions } from './session.js';
import { parseHost } from './target.js';

function cell(n: number | null): string {
  return n === null ? '-' : humanSize(n);
}

function sharedText(l: StorageLocation): string {
  if (l.shared === null) return '?';
  return `${l.shared ? 'yes' : 'no'}${l.verified ? '' : '?'}`;
}

/** Local time, `2025-03-14 09:26`. */
function when(ms: number | null): string {
  if (ms === null) return '-';
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
}

function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (row: string[]) =>
    row
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [fmt(head), ...rows.map(fmt)];
}

/** The human table: one row per location; `?` after yes/no marks a guess, VERIFIED says when a probe job confirmed it. */
export function storageTable(r: StorageReport): string {
  const head = ['KIND', 'PATH', 'FS', 'SIZE', 'AVAIL', 'QUOTA', 'SHARED', 'VERIFIED', 'MOUNT'];
  const rows = r.locations.map((l) => [
    l.kind,
    l.path,
    l.exists ? (l.fsType ?? '?') : 'missing',
    cell(l.totalBytes),
    cell(l.availBytes),
    l.quota ? `${humanSize(l.quota.usedBytes)}/${l.quota.hardLimitBytes ? humanSize(l.quota.hardLimitBytes) : '∞'}` : '-',
    sharedText(l),
    when(l.verifiedAt),
    l.mountPoint ?? '-',
  ]);
  const p = r.placement;
  const lines = [...table(head, rows), '', `yes? / no? = guessed from the fs type; clustrix storage --verify checks with a job on a compute node`];
  lines.push(`job files should go to: ${p.base} (${p.basis}: ${p.reason})`);
  if (r.inUse)
    lines.push(`job files are now in: ${r.inUse.jobs}, envs ${r.inUse.envs} (at agent start: ${r.inUse.reason}); a new placement applies at the next start`);
  return lines.join('\n');
}

/** What the probe concluded, one row per location. */
export function probeTable(p: StorageProbe): string {
  const job = p.jobId ? `probe job ${p.jobId} (${p.scheduler}) ended ${p.state}${p.jobReason ? ` (${p.jobReason})` : ''}` : 'no probe job was submitted';
  const where = p.computeHost ? `, ran on ${p.computeHost}${p.sameHost ? ' = the login node itself: on one host everything is trivially shared' : ''}` : '';
  const rows = p.locations.map((l) => [l.kind, l.path, l.verdict, l.reason]);
  return [`${job}${where}`, ...table(['KIND', 'PATH', 'VERDICT', 'WHY'], rows)].join('\n');
}

function progressLine(p: StorageVerifyProgress): string {
  return `clustrix: ${p.message}\n`;
}

interface StorageFlags {
  quota: boolean;
  verify?: boolean;
  scheduler?: string;
  timeout?: string;
  partition?: string;
  account?: string;
  directive?: string[];
}

/** Flags of `storage --verify` → storage.verify params. Throws UsageError naming the flag. */
export function verifyParams(o: StorageFlags): Omit<VerifyOptions, 'signal' | 'timeoutMs' | 'onProgress'> {
  const p: Omit<VerifyOptions, 'signal' | 'timeoutMs' | 'onProgress'> = {};
  if (o.scheduler !== undefined) {
    if (!SCHEDULERS.includes(o.scheduler as SchedulerName)) throw new UsageError(`--scheduler ${o.scheduler}: expected one of ${SCHEDULERS.join(', ')}`);
    p.scheduler = o.scheduler as SchedulerName;
  }
  if (o.timeout !== undefined) {
    // A bare number is seconds here (how long to wait), not minutes as in a job's -t.
    const sec = /^\d+$/.test(o.timeout) ? Number(o.timeout) : parseDurationSec(o.timeout);
    if (!sec) throw new UsageError(`--timeout ${o.timeout}: expected seconds or a duration like 10m, 1h`);
    p.probeTimeoutMs = sec * 1000;
  }
  if (o.partition !== undefined) p.partition = o.partition;
  if (o.account !== undefined) p.account = o.account;
  if (o.directive?.length) p.directives = o.directive;
  return p;
}

/** Read an env spec file. JSON only for now (no YAML parser in the CLI's dependencies). */
export function readSpecFile(file: string): EnvSpec {
  if (/\.ya?ml$/i.test(file)) throw new UsageError(`${file}: YAML specs are not supported yet; write the spec as JSON`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as EnvSpec;
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
}

export function registerStorageCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('storage')
    .description('storage layout: home, work/project, scratch, /tmp and node-local dirs with fs type, size, quota, and whether compute nodes see them')
    .argument('[host]', 'ssh alias or user@host (default: local)')
    .option('--no-quota', 'skip the site quota tools')
    .option('--verify', 'check with a probe job on a compute node which locations it really sees, and record it')
    .option('--scheduler <name>', `scheduler for the probe job (${SCHEDULERS.join(', ')}; default: detected)`)
    .option('--timeout <duration>', 'give up on the probe job after this long (seconds, or 10m, 1h; default 5m)')
    .option('-p, --partition <name>', 'partition / queue for the probe job')
    .option('-A, --account <name>', 'account for the probe job')
    .option('--directive <arg>', 'extra argument for sbatch/qsub/bsub (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .addHelpText(
      'after',
      '\nExamples:\n  clustrix storage mycluster\n  clustrix storage --json mycluster | jq .placement\n  clustrix storage --verify -p debug mycluster',
    )
    .action(async (host: string | undefined, o: StorageFlags) => {
      const g = globals();
      let params: ReturnType<typeof verifyParams>;
      try {
        if (!o.verify && (o.scheduler ?? o.timeout ?? o.partition ?? o.account ?? o.directive) !== undefined)
          throw new UsageError('--scheduler, --timeout, --partition, --account and --directive need --verify');
        params = verifyParams(o);
      } catch (err) {
        process.stderr.write(`clustrix storage: ${(err as Error).message}\n`);
        process.exitCode = EXIT.USAGE;
        return;
      }
      process.exitCode = await withCluster(parseHost(host), g, async (c, signal) => {
        if (!o.verify) {
          const r = await c.storage({ signal, quota: o.quota });
          await out((g.json ? JSON.stringify(r, null, 2) : storageTable(r)) + '\n');
          return;
        }
        const r = await verifyStorage(c.connection, { ...params, signal, onProgress: (p) => process.stderr.write(progressLine(p)) });
        await out((g.json ? JSON.stringify(r, null, 2) : `${probeTable(r.probe)}\n\n${storageTable(r)}`) + '\n');
        const recorded = r.probe.locations.some((l) => l.verdict === 'shared' || l.verdict === 'not-shared');
        if (!recorded) process.stderr.write('clustrix storage: the probe recorded no verdict (see WHY above)\n');
        return recorded ? EXIT.OK : EXIT.FAILED;
      });
    });

  const env = program.command('env').description('dependency environments on the cluster');
  env
    .command('ensure')
    .description('build (once) or reuse the environment a spec describes; streams the build log to stderr, prints the result')
    .argument('<spec>', 'spec file (JSON): { node: { packages, tarballs, lockfileDir }, python: { interpreter, requirements, wheelDir }, modules, env }')
    .option('-H, --host <host>', 'ssh alias or user@host (default: local)')
    .addHelpText(
      'after',
      '\nExamples:\n  clustrix env ensure -H mycluster env.json\n  . "$(clustrix env ensure --json env.json | jq -r .activate)"   # on the cluster',
    )
    .action(async (file: string, o: { host?: string }) => {
      const g = globals();
      let spec: EnvSpec;
      try {
        spec = readSpecFile(file);
      } catch (err) {
        process.stderr.write(`clustrix env ensure: ${(err as Error).message}\n`);
        process.exitCode = EXIT.USAGE;
        return;
      }
      process.exitCode = await withCluster(parseHost(o.host), g, async (c, signal) => {
        try {
          const r = await c.envs.ensure(spec, {
            signal,
            onLog: (chunk) => process.stderr.write(chunk.lines.map((l) => (chunk.stream === 'info' ? `clustrix: ${l}` : l)).join('\n') + '\n'),
          });
          await out((g.json ? JSON.stringify(r) : `${r.built ? 'built' : 'ready'} ${r.path}\nactivate: . ${r.activate}`) + '\n');
        } catch (err) {
          if (err instanceof RemoteError && Array.isArray(err.details?.argv)) {
            const d = err.details;
            process.stderr.write(`clustrix env ensure: ${err.message}\n  command: ${(d.argv as string[]).join(' ')}\n  exit code: ${String(d.exitCode)}\n`);
            return EXIT.FAILED;
          }
          throw err;
        }
      });
    });
}
