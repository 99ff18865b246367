/**
 * `npm run bench`: clustrix next to its baselines, in one run, as tables with
 * ratios; raw numbers in .bench/results.json. Parts: local (agent vs GNU tools);
 * ssh (agent vs SFTP vs ssh exec, on the testbed) when scripts/bench/ssh.ts exists.
 *
 *   npm run bench                 all parts
 *   npm run bench -- --only local  one part
 *   npm run bench -- --rounds 7 --no-big
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchLocal } from './local.js';
import { printTable, type Row } from './stats.js';

const { values } = parseArgs({
  options: { only: { type: 'string' }, rounds: { type: 'string', default: '5' }, 'no-big': { type: 'boolean', default: false } },
});
const rounds = Number(values.rounds);
const parts = values.only ? values.only.split(',') : ['local', 'ssh', 'jobs'];
const results: Record<string, unknown> = { at: new Date().toISOString(), host: process.env.HOSTNAME, node: process.version };
const here = import.meta.dirname;

if (parts.includes('local')) {
  const { rows, raw } = await benchLocal({ rounds, big: !values['no-big'] });
  printTable('Local: agent over its Unix socket vs GNU tools (medians of interleaved rounds)', rows);
  results.local = raw;
}
if (parts.includes('ssh')) {
  if (existsSync(join(here, 'ssh.ts'))) {
    const specifier = './ssh.js'; // resolved at run time: the part is optional
    const mod = (await import(specifier)) as { benchSsh(o: { rounds: number }): Promise<{ tables: { title: string; rows: Row[] }[]; raw: unknown }> };
    const { tables, raw } = await mod.benchSsh({ rounds });
    for (const t of tables) printTable(t.title, t.rows);
    results.ssh = raw;
  } else process.stderr.write('bench: ssh part not available yet\n');
}
if (parts.includes('jobs')) {
  const { tables, raw } = await (await import('./jobs.js')).benchJobs({ rounds });
  for (const t of tables) printTable(t.title, t.rows);
  results.jobs = raw;
}
const dir = join(here, '..', '..', '.bench');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'results.json'), JSON.stringify(results, null, 2));
process.stdout.write(`\nraw numbers: .bench/results.json\n`);
process.exit(0);
