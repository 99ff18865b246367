/**
 * Ad-hoc bench of the fs handlers against GNU tools on generated trees (not
 * a vitest file: timings are for people, not assertions).
 *
 *   npx tsx test/agent/fs/walk-bench.ts [entries…]      default: 22200 200000
 *
 * Per tree: GNU `find ROOT -print0` into a pipe (what a shell user waits
 * for), fs.find through the direct harness (entries built and batched as
 * they would be for the wire, msgpack encoding excluded), fs.count, fs.du vs
 * `du -s -b`, and fs.find with stat: true (the pipelined-stat rate).
 * Best of N runs each, warm cache.
 */
import { execFile } from 'node:child_process';
import { fsCount, fsDu, fsFind } from '../../../protocol/index.js';
import { createDirect } from '../../support/direct.js';
import { cachedTree } from '../../support/trees.js';

const RUNS = Number(process.env.RUNS ?? 7);

function gnu(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    const child = execFile(cmd, args, { maxBuffer: 1 << 30, encoding: 'buffer' }, (err) => {
      if (err) reject(err);
      else resolve(Number(process.hrtime.bigint() - t) / 1e6);
    });
    child.stdin?.end();
  });
}

async function best(fn: () => Promise<number>): Promise<number> {
  let b = Infinity;
  for (let i = 0; i < RUNS; i++) b = Math.min(b, await fn());
  return b;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const direct = createDirect({ home: '/' });
const sizes = process.argv.slice(2).map(Number);
for (const entries of sizes.length ? sizes : [22_200, 200_000]) {
  const root = cachedTree({ entries });
  const rows: [string, number][] = [];
  const tFind = await best(() => gnu('find', [root, '-print0']));
  rows.push(['GNU find -print0 | pipe', tFind]);
  let n = 0;
  rows.push([
    'fs.find',
    await best(() =>
      timed(async () => {
        const r = await direct.collect(fsFind, { root }, { keep: false });
        n = r.summary.matched;
      }),
    ),
  ]);
  rows.push(['fs.count', await best(() => timed(() => direct.collect(fsCount, { root })))]);
  rows.push(['GNU find -printf %s (stat)', await best(() => gnu('find', [root, '-printf', '%s\\n']))]);
  rows.push(['fs.find stat:true', await best(() => timed(() => direct.collect(fsFind, { root, stat: true }, { keep: false })))]);
  rows.push(['GNU du -s -b', await best(() => gnu('du', ['-s', '-b', root]))]);
  rows.push(['fs.du', await best(() => timed(() => direct.collect(fsDu, { path: root })))]);
  const rss = process.memoryUsage().rss / 1e6;
  console.log(`\n${entries} entries (${n} matched), rss ${rss.toFixed(0)} MB (walks run on the fs threads: agent/fs/fs-threads.ts)`);
  for (const [what, ms] of rows) {
    const extra = what.startsWith('fs.') ? `  ${((n / ms) * 1000).toFixed(0)} entries/s` : '';
    console.log(`  ${what.padEnd(28)} ${ms.toFixed(1).padStart(8)} ms${extra}`);
  }
  console.log(`  ratio fs.find / GNU find    ${(rows[1]![1] / tFind).toFixed(2)}`);
}
