/**
 * SSH part of the bench, on the sshd testbed, through our latency proxy
 * (0 ms and 10 ms each way): the agent vs SFTP (ssh2's client against
 * OpenSSH's sftp server) vs `ssh host <cmd>` (an exec channel per call, like
 * a script would do with a multiplexed connection). Each method runs in its
 * own loop, rounds interleaved; medians over all rounds. Also cold and warm
 * connect times against the SSH handshake of the same connect.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client, SFTPWrapper } from 'ssh2';
import { fsDu, fsFind, fsLs, fsStat } from '../../protocol/methods/fs.js';
import { remoteAgentStop } from '../../client/ssh/agent-control.js';
import { openSsh, type SshSession } from '../../client/ssh/connect.js';
import { shQuote } from '../../client/ssh/quote.js';
import { openRemote, type RemoteHandle, type RemoteOptions } from '../../client/ssh/remote.js';
import { openSftp } from '../../client/ssh/upload.js';
import { cachedTree, makeHugeDir } from '../../test/support/trees.js';
import { startLatencyProxy } from './latency-proxy.mjs';
import { fmtMs, median, quantile, ratio, timeIt, type Row } from './stats.js';

interface Bed {
  host: string;
  instances: { main: { port: number; hostKeyPub: string } };
  users: { main: string };
  sshConfig: string;
}

function loadBed(): Bed | null {
  const file = join(import.meta.dirname, '..', '..', '.testbed', 'state.json');
  if (!existsSync(file)) return null;
  const s = (JSON.parse(readFileSync(file, 'utf8')) as { sshd?: Bed & { skipped?: string } }).sshd;
  return s && !s.skipped ? s : null;
}

/** `ssh host <command>`: one exec channel, stdout drained, exit awaited. */
function sshExec(c: Client, command: string): Promise<number> {
  return new Promise((resolve, reject) => {
    c.exec(command, (err, ch) => {
      if (err) return reject(err);
      let n = 0;
      ch.on('data', (d: Buffer) => (n += d.length));
      ch.stderr.resume();
      ch.on('close', () => resolve(n));
    });
  });
}

const sftpCall = <T>(fn: (cb: (err: Error | null | undefined, v: T) => void) => void) => new Promise<T>((res, rej) => fn((e, v) => (e ? rej(e) : res(v))));

/** A careful SFTP walk: breadth first, 16 readdirs in flight (what a good SFTP client does). */
async function sftpWalk(sftp: SFTPWrapper, root: string): Promise<number> {
  let count = 0;
  let active = 0;
  const queue = [root];
  const workers = Array.from({ length: 16 }, async () => {
    for (;;) {
      const dir = queue.shift();
      if (dir === undefined) {
        if (active === 0) return;
        await new Promise((r) => setTimeout(r, 0));
        continue;
      }
      active++;
      const list = await sftpCall<{ filename: string; attrs: { isDirectory(): boolean } }[]>((cb) => sftp.readdir(dir, cb));
      for (const e of list) {
        count++;
        if (e.attrs.isDirectory()) queue.push(`${dir}/${e.filename}`);
      }
      active--;
    }
  });
  await Promise.all(workers);
  return count;
}

/** Round trip of the bare network path: a TCP echo behind an identical proxy. */
async function networkRtt(delayMs: number): Promise<number> {
  const echo = createServer({ noDelay: true }, (s) => s.on('data', (d) => s.write(d)));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  const proxy = await startLatencyProxy({ targetPort: (echo.address() as { port: number }).port, delayMs });
  const s = netConnect({ port: proxy.port, host: '127.0.0.1', noDelay: true });
  await new Promise((r) => s.once('connect', r));
  const xs: number[] = [];
  for (let i = 0; i < 60; i++) xs.push(await timeIt(() => (s.write('x'), new Promise((r) => s.once('data', r)))));
  s.destroy();
  await proxy.close();
  echo.close();
  return median(xs.slice(10));
}

function hugeDir(): string {
  const dir = join(tmpdir(), 'clustrix-trees', 'dir-1000');
  if (!existsSync(`${dir}.done`)) {
    makeHugeDir(dir, 1000);
    writeFileSync(`${dir}.done`, '1');
  }
  return dir;
}

/** Consume a stream (chunks are credit-controlled: unread chunks would stall it) and return its summary. */
async function drain<R>(s: AsyncIterable<unknown> & { result: Promise<R> }): Promise<R> {
  for await (const _ of s) {
    /* discard */
  }
  return s.result;
}

const goal = (ok: boolean, text: string) => `${text} ${ok ? '✓' : '✗'}`;

export async function benchSsh(o: { rounds: number }): Promise<{ tables: { title: string; rows: Row[] }[]; raw: unknown }> {
  const bed = loadBed();
  if (!bed)
    return { tables: [{ title: 'SSH: skipped — the sshd testbed is not up (node scripts/testbed/index.mjs up sshd)', rows: [] }], raw: { skipped: true } };
  process.stderr.write('bench ssh: preparing trees…\n');
  const t22 = cachedTree({ entries: 22_200 });
  const dir1k = hugeDir();
  const statTarget = `${t22}/file-0000001.dat`;
  const khDir = mkdtempSync(join(tmpdir(), 'clx-bench-kh-'));
  const hostKey = readFileSync(bed.instances.main.hostKeyPub, 'utf8').split(/\s+/).slice(0, 2).join(' ');
  const base: RemoteOptions = { configFiles: [bed.sshConfig], root: '~/.clustrix-bench', runDir: '/tmp/cxb-bench', idleExitMs: 300_000, clientName: 'bench' };
  const tables: { title: string; rows: Row[] }[] = [];
  const raw: Record<string, unknown> = {};

  for (const delay of [0, 10]) {
    const proxy = await startLatencyProxy({ targetPort: bed.instances.main.port, delayMs: delay });
    const kh = join(khDir, `kh-${proxy.port}`);
    mkdirSync(khDir, { recursive: true });
    writeFileSync(kh, `[127.0.0.1]:${proxy.port} ${hostKey}\n`);
    const target = `${bed.users.main}@127.0.0.1:${proxy.port}`;
    const opts: RemoteOptions = { ...base, knownHostsFiles: [kh] };
    const rtt = await networkRtt(delay);
    process.stderr.write(`bench ssh: ${delay} ms each way (measured echo RTT ${rtt.toFixed(2)} ms)…\n`);

    // Connect times: cold (agent stopped first) and warm, against the same connect's SSH handshake.
    const ctl: SshSession = await openSsh(target, opts);
    await openRemote(target, opts).then((h) => h.close()); // make sure it is installed
    const cold: { total: number; ssh: number }[] = [];
    const warm: { total: number; ssh: number }[] = [];
    const warmExec: { total: number; ssh: number }[] = [];
    const sample = async (into: typeof cold, extra: RemoteOptions = {}) => {
      const h: RemoteHandle = await openRemote(target, { ...opts, ...extra });
      into.push({ total: h.timings.totalMs, ssh: h.timings.sshMs });
      await h.close();
    };
    for (let r = 0; r < o.rounds; r++) {
      await remoteAgentStop(ctl, opts);
      await sample(cold);
      await sample(warm);
      await sample(warmExec, { agentCache: false });
    }
    ctl.close();

    const agent = await openRemote(target, opts);
    const sftpSsh = await openSsh(target, opts);
    const sftp = await openSftp(sftpSsh.client);
    const execSsh = await openSsh(target, opts);
    const c = agent.conn;
    const nStat = delay ? 40 : 1000;
    const nExec = delay ? 15 : 100;
    const nLs = delay ? 5 : 30;
    const m = { stat: [] as number[], sftpStat: [] as number[], execStat: [] as number[], ls: [] as number[], sftpLs: [] as number[] };
    const w = { find: [] as number[], execFind: [] as number[], sftpWalk: [] as number[], du: [] as number[], execDu: [] as number[] };
    const counts = { agent: 0, exec: 0, sftp: 0 };
    for (let i = 0; i < 50; i++) await c.call(fsStat, { path: statTarget }); // warm-up both paths
    for (let i = 0; i < 50; i++) await sftpCall((cb) => sftp.lstat(statTarget, cb));
    for (let r = 0; r < o.rounds; r++) {
      for (let i = 0; i < nStat; i++) m.stat.push(await timeIt(() => c.call(fsStat, { path: statTarget })));
      for (let i = 0; i < nStat; i++) m.sftpStat.push(await timeIt(() => sftpCall((cb) => sftp.lstat(statTarget, cb))));
      for (let i = 0; i < nExec; i++) m.execStat.push(await timeIt(() => sshExec(execSsh.client, `stat -- ${shQuote(statTarget)}`)));
      for (let i = 0; i < nLs; i++) m.ls.push(await timeIt(() => drain(c.stream(fsLs, { path: dir1k, stat: true }))));
      for (let i = 0; i < nLs; i++) m.sftpLs.push(await timeIt(() => sftpCall((cb) => sftp.readdir(dir1k, cb as never))));
      w.find.push(
        await timeIt(async () => {
          let n = 0;
          const s = c.stream(fsFind, { root: t22 });
          for await (const batch of s) n += batch.length;
          counts.agent = n;
        }),
      );
      w.execFind.push(await timeIt(async () => (counts.exec = await sshExec(execSsh.client, `find ${shQuote(t22)}`))));
      w.sftpWalk.push(await timeIt(async () => (counts.sftp = await sftpWalk(sftp, t22))));
      w.du.push(await timeIt(() => drain(c.stream(fsDu, { path: t22 }))));
      w.execDu.push(await timeIt(() => sshExec(execSsh.client, `du -s ${shQuote(t22)}`)));
    }
    await agent.close();
    if (delay === 10) {
      const end = await openSsh(target, opts); // leave nothing running behind
      await remoteAgentStop(end, opts);
      end.close();
    }
    sftp.end();
    sftpSsh.close();
    execSsh.close();
    await proxy.close();

    const p50 = median(m.stat);
    const rows: Row[] = [
      {
        metric: 'stat p50',
        ours: fmtMs(p50),
        baseline: `${fmtMs(median(m.sftpStat))} (SFTP)`,
        ratio: ratio(p50, median(m.sftpStat)),
        goal: delay ? '' : goal(p50 <= median(m.sftpStat), '≤ SFTP'),
      },
      {
        metric: 'stat p50',
        ours: fmtMs(p50),
        baseline: `${fmtMs(rtt)} (network RTT)`,
        ratio: ratio(p50, rtt),
        goal: delay ? goal(p50 <= 1.05 * rtt, '≤ 1.05× RTT') : '',
      },
      { metric: 'stat p50', ours: fmtMs(p50), baseline: `${fmtMs(median(m.execStat))} (ssh stat)`, ratio: ratio(p50, median(m.execStat)), goal: '' },
      {
        metric: 'stat p99',
        ours: fmtMs(quantile(m.stat, 0.99)),
        baseline: `${fmtMs(quantile(m.sftpStat, 0.99))} (SFTP)`,
        ratio: ratio(quantile(m.stat, 0.99), quantile(m.sftpStat, 0.99)),
        goal: '',
      },
      {
        metric: 'ls -l, 1k-entry dir',
        ours: fmtMs(median(m.ls)),
        baseline: `${fmtMs(median(m.sftpLs))} (SFTP readdir)`,
        ratio: ratio(median(m.ls), median(m.sftpLs)),
        goal: '',
      },
      {
        metric: `find, 22k tree (${counts.agent})`,
        ours: fmtMs(median(w.find)),
        baseline: `${fmtMs(median(w.execFind))} (ssh find)`,
        ratio: ratio(median(w.find), median(w.execFind)),
        goal: goal(median(w.find) <= 0.8 * median(w.execFind), '≤ 0.8×'),
      },
      {
        metric: 'find, 22k tree',
        ours: fmtMs(median(w.find)),
        baseline: `${fmtMs(median(w.sftpWalk))} (SFTP walk, 16 in flight)`,
        ratio: ratio(median(w.find), median(w.sftpWalk)),
        goal: goal(median(w.sftpWalk) >= 10 * median(w.find), '≥ 10× faster'),
      },
      {
        metric: 'du -s, 22k tree',
        ours: fmtMs(median(w.du)),
        baseline: `${fmtMs(median(w.execDu))} (ssh du -s)`,
        ratio: ratio(median(w.du), median(w.execDu)),
        goal: goal(median(w.du) <= median(w.execDu), '≤ 1×'),
      },
      // The connect budgets are for the loopback (0 ms) run; at 10 ms each way they are shown for information.
      connectRow('cold connect (agent not running)', cold, delay ? null : 300),
      connectRow('warm connect (agent running)', warm, delay ? null : 30),
      connectRow('warm connect, no client cache (remote exec)', warmExec, null),
    ];
    tables.push({
      title: `SSH, ${delay} ms added each way (network RTT ${fmtMs(rtt)}): agent vs SFTP vs ssh exec, medians of ${o.rounds} interleaved rounds`,
      rows,
    });
    raw[`delay${delay}`] = { rttMs: rtt, ...m, ...w, counts, cold, warm, warmExec };
  }
  return { tables, raw };
}

function connectRow(metric: string, xs: { total: number; ssh: number }[], budgetMs: number | null): Row {
  const total = median(xs.map((x) => x.total));
  const ssh = median(xs.map((x) => x.ssh));
  const over = median(xs.map((x) => x.total - x.ssh));
  return {
    metric,
    ours: fmtMs(total),
    baseline: `${fmtMs(ssh)} (SSH handshake)`,
    ratio: `+${fmtMs(over)}`,
    goal: budgetMs === null ? '' : goal(over <= budgetMs, `≤ handshake + ${budgetMs} ms`),
  };
}
