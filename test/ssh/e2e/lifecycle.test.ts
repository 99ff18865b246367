/**
 * Agent lifecycle over SSH against the real testbed: killed between calls →
 * the next call restarts it; two clients share one agent; another local user
 * cannot connect to the socket; a dead network ends in a clear keepalive
 * timeout error.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Cluster } from '../../../client/cluster.js';
import { ConnectionError } from '../../../client/errors.js';
import { connect } from '../../../client/index.js';
import { openSsh } from '../../../client/ssh/connect.js';
import { shQuote } from '../../../client/ssh/quote.js';
import { execScript } from '../../../client/ssh/remote-exec.js';
import { openRemote } from '../../../client/ssh/remote.js';
import { agentInfo, agentShutdown } from '../../../protocol/index.js';
import { startLatencyProxy } from '../../../scripts/bench/latency-proxy.mjs';
import { bed, describeSsh, login, sandbox } from './bed.js';

describeSsh('ssh e2e: agent lifecycle', () => {
  const box = sandbox('life');
  let a: Cluster;
  beforeAll(async () => {
    a = await connect(login('main'), box.opts());
  });
  afterAll(async () => {
    await a?.close();
    await box.cleanup();
  });

  it('two clients share one agent', async () => {
    const b = await connect(login('main'), box.opts());
    try {
      const [ia, ib] = await Promise.all([a.info(), b.info()]);
      expect(ib.pid).toBe(ia.pid);
      expect(ib.connections).toBeGreaterThanOrEqual(2);
    } finally {
      await b.close();
    }
  });

  it('clients connecting at once to a stopped agent all end up on one agent', async () => {
    const race = sandbox('race');
    try {
      const first = await openRemote(login('main'), race.opts({ agentCache: false }));
      await first.conn.call(agentShutdown, {}).catch(() => {});
      await first.close();
      for (let i = 0; i < 50 && (await race.sh(`[ -S ${race.runDir}/agent.sock ] && echo up`)).stdout.includes('up'); i++)
        await new Promise((r) => setTimeout(r, 100));
      // Each launches `serve` directly or runs `start`; whoever loses the lock falls back to `start`, which reuses the winner.
      const all = await Promise.all(Array.from({ length: 4 }, () => openRemote(login('main'), race.opts({ agentCache: false }))));
      try {
        expect(new Set(all.map((h) => h.info.pid)).size).toBe(1);
        expect(all.map((h) => h.info.how).filter((how) => how === 'started').length).toBeLessThanOrEqual(1);
        const infos = await Promise.all(all.map((h) => h.conn.call(agentInfo, {})));
        expect(new Set(infos.map((i) => i.pid))).toEqual(new Set([all[0]!.info.pid]));
      } finally {
        await Promise.all(all.map((h) => h.close()));
      }
    } finally {
      await race.cleanup();
    }
  });

  it('agent killed between calls: the next call restarts it', async () => {
    const before = await a.info();
    // Kill it hard, as a site's process reaper would (our pid: this suite started it).
    const k = await box.sh(`kill -9 ${before.pid} && echo killed`);
    expect(k.stdout).toContain('killed');
    // No waiting: a read-only call that races the close is retried on a fresh connection.
    const st = await a.fs.stat(bed.homes[bed.users.main]!);
    expect(st.type).toBe('dir');
    const after = await a.info();
    expect(after.pid).not.toBe(before.pid);
  });

  // Without root the testbed has no second user to try with.
  it.skipIf(!bed.users.other)('another local user cannot connect to the agent socket (EACCES)', async () => {
    const socket = `${(await a.info()).runDir}/agent.sock`;
    const other = await openSsh(login('main', 'other'), { configFiles: [bed.sshConfig] });
    try {
      const probe = `const s=require('net').connect(process.argv[1]);s.on('connect',()=>{console.log('CONNECTED');process.exit(0)});s.on('error',e=>{console.log('ERR '+e.code);process.exit(0)})`;
      const r = await execScript(other.client, `id -un; /usr/bin/env node -e ${shQuote(probe)} ${shQuote(socket)}`);
      const lines = r.stdout.trim().split('\n');
      expect(lines.at(-2)).toBe(bed.users.other);
      expect(lines.at(-1)).toBe('ERR EACCES');
    } finally {
      other.close();
    }
  });

  it('a dead network ends in a clear keepalive timeout, not a hang', async () => {
    const proxy = await startLatencyProxy({ targetPort: bed.instances.main.port });
    const c = await connect(
      `${bed.users.main}@127.0.0.1:${proxy.port}`,
      box.opts({ keepaliveIntervalMs: 200, keepaliveCountMax: 2, knownHostsFiles: [hostKeyFileFor(proxy.port)] }),
    );
    try {
      await c.ping();
      proxy.freeze(true);
      const t0 = Date.now();
      const err = (await c.ping({ timeoutMs: 10_000 }).catch((e: unknown) => e)) as ConnectionError;
      expect(err).toBeInstanceOf(ConnectionError);
      expect(err.kind).toBe('timeout');
      expect(err.message).toMatch(/keepalive/i);
      expect(Date.now() - t0).toBeLessThan(5_000);
    } finally {
      proxy.freeze(false);
      await c.close();
      await proxy.close();
    }
  });
});

/** known_hosts naming main's key under the proxy's port (the proxy is a different [host]:port). */
function hostKeyFileFor(port: number): string {
  const key = readFileSync(bed.instances.main.hostKeyPub, 'utf8').split(/\s+/).slice(0, 2).join(' ');
  const file = join(mkdtempSync(join(tmpdir(), 'clx-kh-')), 'known_hosts');
  writeFileSync(file, `[127.0.0.1]:${port} ${key}\n`);
  return file;
}
