/**
 * `clustrix demo`: a real tour on the embedded local default. Starts (or
 * reuses) the local agent, builds a small tree of fake job outputs in a temp
 * dir, and runs the same queries a user would run against a cluster, timing
 * them beside the GNU tools.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { connect } from '../index.js';
import { describeError, exitCodeFor } from './exit.js';
import { humanSize, lsLong } from './format.js';
import type { GlobalOptions } from './session.js';

/** The module the demo runs as jobs: summarize one run dir of fake outputs. */
const ANALYZE_TS = `import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { progress } from 'clustrix/job';

export async function summarize(dir: string): Promise<{ files: number; lines: number }> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.log') || n.endsWith('.out'));
  let lines = 0;
  for (const [i, n] of names.entries()) {
    lines += (await readFile(join(dir, n), 'utf8')).split('\\n').length - 1;
    if (i % 20 === 0) progress({ done: i, of: names.length });
  }
  return { files: names.length, lines };
}
`;

type Summarize = (dir: string) => Promise<{ files: number; lines: number }>;

const RUNS = 40;
const FILES_PER_RUN = 120;

function makeTree(root: string): number {
  let n = 0;
  for (let r = 0; r < RUNS; r++) {
    const dir = join(root, `run-${String(r).padStart(3, '0')}`);
    mkdirSync(join(dir, 'checkpoints'), { recursive: true });
    for (let f = 0; f < FILES_PER_RUN; f++) {
      const ext = f % 3 === 0 ? 'log' : f % 3 === 1 ? 'out' : 'csv';
      writeFileSync(join(dir, `step-${f}.${ext}`), `run ${r} step ${f}\n`.repeat(1 + (f % 7)));
      n++;
    }
    writeFileSync(join(dir, 'checkpoints', 'model.ckpt'), Buffer.alloc(64 * 1024 * (1 + (r % 4))));
    n += 3;
  }
  return n;
}

function time<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  return fn().then((v) => [v, performance.now() - t0]);
}

function gnu(cmd: string, args: string[]): [string, number] | null {
  try {
    const t0 = performance.now();
    const out = execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
    return [out, performance.now() - t0];
  } catch {
    return null;
  }
}

export function registerDemoCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('demo')
    .description('a tour of clustrix on the embedded local default (no cluster needed)')
    .action(async () => {
      const g = globals();
      const say = (s = '') => process.stdout.write(s + '\n');
      const root = mkdtempSync(join(tmpdir(), 'clustrix-demo-'));
      try {
        say('clustrix demo — the same API you use against a cluster, on the local embedded agent.\n');
        const entries = makeTree(root);
        say(`Made a tree of ${entries} fake job outputs in ${root}\n`);

        const [cluster, connectMs] = await time(() => connect('local', { root: g.root, runDir: g.runDir, clientName: 'clustrix demo' }));
        const info = await cluster.info();
        say(`connect('local'): ${connectMs.toFixed(0)} ms — agent pid ${info.pid}, build ${info.build}, node ${info.node}, socket ${info.runDir}/agent.sock`);

        const [ls, lsMs] = await time(() => cluster.fs.ls(join(root, 'run-000')));
        say(`\nls -l run-000 (${ls.length} entries with type, size, mtime, mode, owner in one round trip, ${lsMs.toFixed(1)} ms); first 5:`);
        ls.sort((a, b) => a.name.localeCompare(b.name));
        for (const line of lsLong(ls.slice(0, 5))) say('  ' + line);

        const [logs, findMs] = await time(() => cluster.fs.find(root, { name: '*.log', type: 'file' }).toArray());
        const gf = gnu('find', [root, '-name', '*.log', '-type', 'f']);
        say(
          `\nfind -name '*.log' -type f: ${logs.length} matches in ${findMs.toFixed(1)} ms` +
            (gf ? ` (GNU find: ${gf[0].trim().split('\n').length} in ${gf[1].toFixed(1)} ms, incl. process start)` : ''),
        );

        const [big, bigMs] = await time(() => cluster.fs.find(root, { minSize: 100 * 1024, stat: true }).toArray());
        say(`find --min-size 100k: ${big.length} checkpoints, ${humanSize(big.reduce((s, e) => s + (e.size ?? 0), 0))} in total (${bigMs.toFixed(1)} ms)`);

        const [du, duMs] = await time(() => cluster.fs.du(root));
        const gd = gnu('du', ['-sb', root]);
        say(
          `\ndu: ${du.apparentBytes} bytes apparent, ${du.allocatedBytes} allocated, ${du.files} files, ${du.dirs} dirs (${duMs.toFixed(1)} ms)` +
            (gd ? ` — GNU du -sb says ${gd[0].split('\t')[0]}` : ''),
        );

        const [globbed, globMs] = await time(() => cluster.fs.glob('run-00*/step-1*.out', { cwd: root }).toArray());
        say(`glob 'run-00*/step-1*.out': ${globbed.length} paths (${globMs.toFixed(1)} ms)`);

        const paths = logs.slice(0, 1000).map((e) => e.path);
        const [, statMs] = await time(() => Promise.all(paths.map((p) => cluster.fs.stat(p))));
        say(`\n${paths.length} stats pipelined on one connection: ${statMs.toFixed(1)} ms (${Math.round(paths.length / (statMs / 1000))} stats/s)`);

        const note = join(root, 'notes', 'README.txt');
        await cluster.fs.writeFile(note, 'written atomically by clustrix\n', { mkdirs: true });
        const back = await cluster.fs.readFile(note);
        say(`writeFile + readFile round trip: ${JSON.stringify(back.toString())}`);

        try {
          await cluster.fs.stat(join(root, 'no-such-file'));
        } catch (err) {
          say(`stat of a missing file → ${(err as Error).name} ${(err as { code?: string }).code}: ${(err as Error).message}`);
        }

        // Functions: a TypeScript export run as jobs on the local scheduler (on a cluster: Slurm, SGE…).
        const mod = join(root, 'analyze.ts');
        writeFileSync(mod, ANALYZE_TS);
        const detected = await cluster.jobs.detect();
        say(`\nFunctions, on the ${detected.scheduler} scheduler (${detected.how}):`);
        const runs = Array.from({ length: 8 }, (_, r) => join(root, `run-${String(r).padStart(3, '0')}`));
        const [one, oneMs] = await time(async () => {
          const call = cluster.run<Summarize>(mod, 'summarize', [runs[0]!]);
          const events: unknown[] = [];
          for await (const ev of call) events.push(ev.data);
          return { result: await call, events, report: await call.submitted };
        });
        const rep = one.report!;
        say(
          `  run(analyze.ts#summarize): ${JSON.stringify(one.result)} in ${oneMs.toFixed(0)} ms, ${one.events.length} progress events on the way;` +
            ` bundle ${(rep.bundle.bytes / 1024).toFixed(0)} KiB ${rep.bundle.uploaded ? 'uploaded' : 'already on the agent'}, job ${rep.job.id}`,
        );
        const [all, allMs] = await time(async () => await cluster.map<Summarize>(mod, 'summarize', runs, { maxConcurrent: 4 }));
        say(`  map over ${runs.length} run dirs as ONE job array: ${all.map((s) => s.lines).join(', ')} lines (${allMs.toFixed(0)} ms)`);
        const failed = await cluster.run(mod, 'summarize', [join(root, 'no-such-run')]).catch((e: unknown) => e as Error & { code?: string });
        say(`  a remote exception comes back as itself: ${failed.name} ${failed.code ?? ''}: ${failed.message.split('\n')[0]}`);
        await cluster.close();
        say('\nThe agent stays up for the next command and exits by itself when idle. Try:');
        say('  node bin/clustrix.mjs ls -l ~          (or run npm link once, then: clustrix ls -l ~)');
        say('  node bin/clustrix.mjs find ~ --name "*.md" --maxdepth 3');
        say('  node bin/clustrix.mjs status');
      } catch (err) {
        process.stderr.write(`clustrix demo: ${describeError(err)}\n`);
        process.exitCode = exitCodeFor(err);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });
}
