/**
 * `npm run bench`: clustrix next to its baselines, in one run, as tables with
 * ratios; raw numbers in .bench/results.json. Parts: local (agent vs GNU
 * tools), ssh (agent vs SFTP vs ssh exec, on the sshd testbed), jobs and
 * functions (local scheduler, and real Slurm on the testbed). The testbed components the
 * chosen parts need are brought up first and, if this run started them, torn
 * down at the end (scripts/bench/testbed.ts); a part whose component cannot
 * run here is skipped with the reason.
 *
 *   npm run bench                       all parts
 *   npm run bench -- --only ssh,jobs    some parts
 *   npm run bench -- --rounds 7 --no-big
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchFunctions } from './functions.js';
import { benchJobs } from './jobs.js';
import { benchLocal } from './local.js';
import { benchSsh } from './ssh.js';
import { printTable, type Table } from './stats.js';
import { testbedFor } from './testbed.js';

interface Part {
  /** Testbed components the part needs (scripts/testbed). */
  needs: string[];
  run(o: { rounds: number; big: boolean }): Promise<{ tables: Table[]; raw: Record<string, unknown> }>;
}

const PARTS: Record<string, Part> = {
  local: {
    needs: [],
    run: async (o) => {
      const { rows, raw } = await benchLocal(o);
      return { tables: [{ title: 'Local: agent over its Unix socket vs GNU tools (medians of interleaved rounds)', rows }], raw };
    },
  },
  ssh: { needs: ['sshd'], run: benchSsh },
  jobs: { needs: ['slurm'], run: benchJobs },
  functions: { needs: ['slurm'], run: benchFunctions },
};

const { values } = parseArgs({
  options: { only: { type: 'string' }, rounds: { type: 'string', default: '5' }, 'no-big': { type: 'boolean', default: false } },
});
const rounds = Number(values.rounds);
const names = values.only ? values.only.split(',').filter(Boolean) : Object.keys(PARTS);
const unknown = names.filter((p) => !(p in PARTS));
if (unknown.length || !(rounds >= 1)) {
  const why = unknown.length ? ` (unknown part: ${unknown.join(', ')})` : ' (--rounds must be ≥ 1)';
  process.stderr.write(`usage: npm run bench -- [--only ${Object.keys(PARTS).join(',')}] [--rounds N] [--no-big]${why}\n`);
  process.exit(2);
}

// Each part's raw numbers replace that part's in .bench/results.json; the other parts' stay.
const resultsFile = join(import.meta.dirname, '..', '..', '.bench', 'results.json');
const results = readResults();
const stamp = () => ({ at: new Date().toISOString(), host: hostname(), node: process.version, rounds });
const teardown = testbedFor(names.flatMap((n) => PARTS[n]!.needs));
try {
  for (const name of names) {
    const { tables, raw } = await PARTS[name]!.run({ rounds, big: !values['no-big'] });
    for (const t of tables) printTable(t.title, t.rows, t.head);
    results[name] = { ...stamp(), ...raw };
  }
} finally {
  teardown();
}
mkdirSync(dirname(resultsFile), { recursive: true });
writeFileSync(resultsFile, JSON.stringify(results, null, 2));
process.stdout.write(`\nraw numbers: .bench/results.json\n`);
process.exit(0);

function readResults(): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(resultsFile, 'utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}
