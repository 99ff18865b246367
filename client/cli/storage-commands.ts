/** `clustrix storage [host]` and `clustrix env ensure <spec.json>`. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { EnvSpec, StorageLocation, StorageReport } from '../../protocol/index.js';
import { RemoteError } from '../errors.js';
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

/** The human table: one row per location; `?` after yes/no marks a guess. */
export function storageTable(r: StorageReport): string {
  const head = ['KIND', 'PATH', 'FS', 'SIZE', 'AVAIL', 'QUOTA', 'SHARED', 'MOUNT'];
  const rows = r.locations.map((l) => [
    l.kind,
    l.path,
    l.exists ? (l.fsType ?? '?') : 'missing',
    cell(l.totalBytes),
    cell(l.availBytes),
    l.quota ? `${humanSize(l.quota.usedBytes)}/${l.quota.hardLimitBytes ? humanSize(l.quota.hardLimitBytes) : '∞'}` : '-',
    sharedText(l),
    l.mountPoint ?? '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (row: string[]) =>
    row
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const p = r.placement;
  return [
    fmt(head),
    ...rows.map(fmt),
    '',
    `shared? = guessed from the fs type, not yet verified by a job on a compute node`,
    `job files: ${p.base} (${p.basis}: ${p.reason})`,
  ].join('\n');
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
    .addHelpText('after', '\nExamples:\n  clustrix storage mycluster\n  clustrix storage --json mycluster | jq .placement')
    .action(async (host: string | undefined, o: { quota: boolean }) => {
      const g = globals();
      process.exitCode = await withCluster(parseHost(host), g, async (c, signal) => {
        const r = await c.storage({ signal, quota: o.quota });
        await out((g.json ? JSON.stringify(r, null, 2) : storageTable(r)) + '\n');
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
