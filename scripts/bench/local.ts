/**
 * Local part of the bench: the agent over its Unix socket vs the GNU tools
 * run locally (as subprocesses writing to a pipe, the way a script would).
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { connect, type Cluster } from '../../client/index.js';
import { runLocalAgent, type LocalOptions } from '../../client/local.js';
import { fsStat } from '../../protocol/index.js';
import { cachedTree } from '../../test/support/trees.js';
import { fmtMs, median, quantile, ratio, timeIt, type Row } from './stats.js';

const run = promisify(execFile);

/** Time a GNU tool to completion, its whole stdout drained (process start included). */
function gnu(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    p.stdout.on('data', () => {});
    p.on('error', reject);
    p.on('close', () => resolve(performance.now() - t0));
  });
}

function vm(pid: number, key: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

async function walkAll(c: Cluster, root: string): Promise<number> {
  let n = 0;
  for await (const _ of c.fs.find(root)) n++;
  return n;
}

const CLI = new URL('../../dist/cli.mjs', import.meta.url).pathname;

/**
 * What a script or a shell pays per command: `connect('local')` with the agent
 * running (no node process started) and stopped (one: the agent), and a
 * one-shot `clustrix stat` against a one-shot GNU `stat`, and with the CLI's
 * V8 code cache turned off; `node -e 0` is the price of one node start-up on
 * this machine.
 */
async function connectRows(lopts: LocalOptions, file: string, rounds: number, raw: Record<string, unknown>): Promise<Row[]> {
  const n = Math.max(5, rounds * 2);
  const warm: number[] = [];
  const cold: number[] = [];
  const node: number[] = [];
  const cli: number[] = [];
  const cliNoCache: number[] = [];
  const gnuStat: number[] = [];
  const dirs = ['--root', lopts.root!, '--run-dir', lopts.runDir!];
  for (let i = 0; i < n; i++) {
    await runLocalAgent(lopts, 'stop');
    cold.push(await timeIt(async () => (await connect('local', lopts)).close()));
    warm.push(await timeIt(async () => (await connect('local', lopts)).close()));
    node.push(await timeIt(() => run(process.execPath, ['-e', '0'])));
    cli.push(await timeIt(() => run(process.execPath, [CLI, ...dirs, 'stat', file])));
    const noCache = { env: { ...process.env, CLUSTRIX_CODE_CACHE: 'off' } };
    cliNoCache.push(await timeIt(() => run(process.execPath, [CLI, ...dirs, 'stat', file], noCache)));
    gnuStat.push(await timeIt(() => run('stat', [file])));
  }
  raw.connect = { warm, cold, node, cli, cliNoCache, gnuStat };
  const nodeMs = `${fmtMs(median(node))} (one \`node -e 0\`)`;
  return [
    { metric: "connect('local'), agent running", ours: fmtMs(median(warm)), baseline: nodeMs, ratio: ratio(median(warm), median(node)), goal: '' },
    { metric: "connect('local'), agent stopped", ours: fmtMs(median(cold)), baseline: nodeMs, ratio: ratio(median(cold), median(node)), goal: '' },
    {
      metric: 'one-shot `clustrix stat` (CLI start incl.)',
      ours: fmtMs(median(cli)),
      baseline: `${fmtMs(median(gnuStat))} (GNU stat)`,
      ratio: ratio(median(cli), median(gnuStat)),
      goal: '',
    },
    {
      metric: 'one-shot `clustrix stat`: code cache on vs off',
      ours: fmtMs(median(cli)),
      baseline: `${fmtMs(median(cliNoCache))} (CLUSTRIX_CODE_CACHE=off)`,
      ratio: ratio(median(cli), median(cliNoCache)),
      goal: '',
    },
  ];
}

export async function benchLocal(opts: { rounds: number; big: boolean }): Promise<{ rows: Row[]; raw: Record<string, unknown> }> {
  const base = mkdtempSync('/tmp/clx-bench-');
  const lopts = { root: `${base}/root`, runDir: `${base}/run`, idleExitMs: 120_000 };
  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};
  try {
    process.stderr.write('bench: preparing trees (cached under $TMPDIR/clustrix-trees)…\n');
    const t22 = cachedTree({ entries: 22_200 });
    const t200 = cachedTree({ entries: 200_000 });
    const c = await connect('local', lopts);
    const info = await c.info();

    // stat latency, sequential
    const target = `${t22}/file-0000001.dat`;
    for (let i = 0; i < 200; i++) await c.fs.stat(target);
    const lat: number[] = [];
    for (let i = 0; i < 3000; i++) lat.push(await timeIt(() => c.fs.stat(target)));
    const execLat: number[] = [];
    for (let i = 0; i < 200; i++) execLat.push(await timeIt(() => run('stat', ['--printf=%s', target])));
    raw.statP50Ms = median(lat);
    raw.statP99Ms = quantile(lat, 0.99);
    raw.statExecP50Ms = median(execLat);
    rows.push({
      metric: 'stat p50 (sequential)',
      ours: fmtMs(median(lat)),
      baseline: `${fmtMs(median(execLat))} (exec stat)`,
      ratio: ratio(median(lat), median(execLat)),
      goal: '',
    });
    rows.push({
      metric: 'stat p99 (sequential)',
      ours: fmtMs(quantile(lat, 0.99)),
      baseline: `${fmtMs(quantile(execLat, 0.99))} (exec stat)`,
      ratio: ratio(quantile(lat, 0.99), quantile(execLat, 0.99)),
      goal: '',
    });

    // pipelined stats on one connection: one request per stat, and stat() calls coalesced into fs.statMany
    const N = 50_000;
    const single: number[] = [];
    const coalesced: number[] = [];
    for (let r = 0; r < opts.rounds; r++) {
      single.push(N / ((await timeIt(() => Promise.all(Array.from({ length: N }, () => c.connection.call(fsStat, { path: target }))))) / 1000));
      coalesced.push(N / ((await timeIt(() => Promise.all(Array.from({ length: N }, () => c.fs.stat(target))))) / 1000));
    }
    raw.pipelinedStatsPerSec = { oneRequestEach: median(single), coalesced: median(coalesced) };
    rows.push({
      metric: `pipelined stat() calls/s (${N} concurrent, coalesced)`,
      ours: `${Math.round(median(coalesced))}/s`,
      baseline: '',
      ratio: '',
      goal: '≥ 50,000/s',
    });
    rows.push({ metric: `pipelined fs.stat requests/s (one frame each)`, ours: `${Math.round(median(single))}/s`, baseline: '', ratio: '', goal: '' });

    // find and du vs GNU, interleaved rounds
    for (const [label, root] of [
      ['22k', t22],
      ['200k', t200],
    ] as const) {
      const ours: number[] = [];
      const theirs: number[] = [];
      const oursDu: number[] = [];
      const theirsDu: number[] = [];
      const oursDuD1: number[] = [];
      const theirsDuD1: number[] = [];
      let count = 0;
      for (let r = 0; r < opts.rounds; r++) {
        ours.push(await timeIt(async () => (count = await walkAll(c, root))));
        theirs.push(await gnu('find', [root]));
        oursDu.push(await timeIt(() => c.fs.du(root)));
        theirsDu.push(await gnu('du', ['-s', '-b', root]));
        oursDuD1.push(await timeIt(() => c.fs.du(root, { maxDepth: 1 })));
        theirsDuD1.push(await gnu('du', ['-b', '--max-depth=1', root]));
      }
      raw[`find${label}`] = { ours: ours, gnu: theirs, entries: count };
      raw[`du${label}`] = { ours: oursDu, gnu: theirsDu };
      raw[`duMaxDepth1${label}`] = { ours: oursDuD1, gnu: theirsDuD1 };
      rows.push({
        metric: `find, ${label} entries (${count})`,
        ours: fmtMs(median(ours)),
        baseline: `${fmtMs(median(theirs))} (GNU find)`,
        ratio: ratio(median(ours), median(theirs)),
        goal: '≤ 1.2×',
      });
      rows.push({
        metric: `du -sb, ${label} entries`,
        ours: fmtMs(median(oursDu)),
        baseline: `${fmtMs(median(theirsDu))} (GNU du)`,
        ratio: ratio(median(oursDu), median(theirsDu)),
        goal: '',
      });
      rows.push({
        metric: `du -b --max-depth=1, ${label} entries`,
        ours: fmtMs(median(oursDuD1)),
        baseline: `${fmtMs(median(theirsDuD1))} (GNU du)`,
        ratio: ratio(median(oursDuD1), median(theirsDuD1)),
        goal: '',
      });
    }
    await c.close();
    rows.push(...(await connectRows(lopts, target, opts.rounds, raw)));

    // RSS of a fresh agent streaming a 1M-entry walk
    if (opts.big) {
      process.stderr.write('bench: preparing the 1M-entry tree (first run only; a few minutes)…\n');
      const t1m = cachedTree({ entries: 1_000_000, maxFileBytes: 0 });
      // One untimed walk first: this row has a single round, so whichever side walked first
      // paid for a cold dentry/inode cache (seen: ours 15 s vs GNU's 3 s when the tree had sat
      // unused for 20 minutes on a machine that reclaims cold memory; ours 3 s a minute later).
      await gnu('find', [t1m]);
      await runLocalAgent(lopts, 'stop');
      const c2 = await connect('local', lopts);
      const pid = (await c2.info()).pid;
      const before = vm(pid, 'VmRSS');
      let n = 0;
      const ms = await timeIt(async () => (n = await walkAll(c2, t1m)));
      const peak = vm(pid, 'VmHWM');
      const gnuMs = await gnu('find', [t1m]);
      raw.rss1M = { beforeBytes: before, peakBytes: peak, entries: n, walkMs: ms, gnuMs };
      rows.push({
        metric: `agent peak RSS streaming ${n} entries`,
        ours: `${(peak / 1048576).toFixed(0)} MB`,
        baseline: `${(before / 1048576).toFixed(0)} MB at start`,
        ratio: '',
        goal: '≤ 150 MB',
      });
      rows.push({ metric: 'find, 1M entries', ours: fmtMs(ms), baseline: `${fmtMs(gnuMs)} (GNU find)`, ratio: ratio(ms, gnuMs), goal: '' });
      await c2.close();
    }
    raw.agent = { pid: info.pid, build: info.build, node: info.node };
  } finally {
    await runLocalAgent(lopts, 'stop').catch(() => {});
    rmSync(base, { recursive: true, force: true });
  }
  return { rows, raw };
}
