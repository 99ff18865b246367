/**
 * The mux against a real local agent (its SSH upstream is exercised by the
 * SSH e2e suite): bytes pass end to end, a restarted agent is found again,
 * stop, idle exit, bad requests, and the trust checks on its directory.
 */
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connectUnix, startLocalAgent } from '../../client/local.js';
import { openViaMux, stopMux } from '../../client/mux/client.js';
import { ensureMuxDir, muxSocketPath } from '../../client/mux/paths.js';
import { MuxServer, type MuxUpstream } from '../../client/mux/server.js';
import { MUX_WIRE_VERSION, parseReply, readLine } from '../../client/mux/wire.js';
import { fsStat } from '../../protocol/index.js';
import { localEnv } from '../support/local-agent.js';
import { useMuxFixture } from '../support/mux-fixture.js';

const fx = useMuxFixture('/tmp/clx-mux-');

/** An upstream that reaches the test's local agent; counts opens and refreshes. */
function localUpstream(): MuxUpstream & { opens: boolean[]; lose: (why: string) => void } {
  let lost: (why: string) => void = () => {};
  const opens: boolean[] = [];
  let info: Awaited<ReturnType<typeof startLocalAgent>> | null = null;
  return {
    opens,
    lose: (why) => lost(why),
    async open(refresh) {
      opens.push(refresh);
      if (!info || refresh) info = await startLocalAgent(fx.env.opts);
      const stream = await connectUnix(info.socket);
      return {
        stream,
        agent: { token: info.token, build: info.build, pid: info.pid, socket: info.socket, runDir: info.runDir, root: info.root, tunnel: 'test' },
      };
    },
    onLost: (fn) => (lost = fn),
    close() {},
  };
}

async function startMux(up: MuxUpstream, idleMs = 60_000): Promise<MuxServer> {
  ensureMuxDir();
  const s = new MuxServer(up, { socketPath: muxSocketPath('test'), idleMs });
  fx.servers.push(s);
  await s.listen();
  return s;
}

describe('mux', () => {
  it('carries a protocol connection end to end, one channel per client, socket 0600', async () => {
    const up = localUpstream();
    const mux = await startMux(up);
    expect(statSync(muxSocketPath('test')).mode & 0o777).toBe(0o600);
    const a = await openViaMux(muxSocketPath('test'), {});
    const b = await openViaMux(muxSocketPath('test'), {});
    expect(a && b).toBeTruthy();
    await expect(a!.conn.call(fsStat, { path: '/' })).resolves.toMatchObject({ type: 'dir' });
    await expect(b!.conn.call(fsStat, { path: fx.base })).resolves.toMatchObject({ type: 'dir' });
    expect(mux.opened).toBe(2);
    expect(up.opens).toEqual([false, false]);
    await Promise.all([a!.conn.close(), b!.conn.close()]);
  });

  it('asks again which agent runs when the agent refused the token (restarted behind its back)', async () => {
    const up = localUpstream();
    await startMux(up);
    const first = await openViaMux(muxSocketPath('test'), {});
    const pid = first!.conn.welcome.pid;
    await first!.conn.close();
    await fx.env.cleanup(); // stop the agent; the mux's token is now stale
    fx.env = localEnv({ root: fx.env.root, runDir: fx.env.runDir });
    const fresh = await startLocalAgent(fx.env.opts);
    expect(fresh.pid).not.toBe(pid);
    const again = await openViaMux(muxSocketPath('test'), {});
    expect(again?.conn.welcome.pid).toBe(fresh.pid);
    expect(up.opens).toEqual([false, false, true]);
    await again!.conn.close();
  });

  it('stops when asked, and when its upstream is lost', async () => {
    const one = await startMux(localUpstream());
    expect(await stopMux(muxSocketPath('test'))).toBe(true);
    await expect(one.done).resolves.toBe('stop requested');
    expect(() => statSync(muxSocketPath('test'))).toThrow();
    expect(await stopMux(muxSocketPath('test'))).toBe(false);
    const up = localUpstream();
    const two = await startMux(up);
    up.lose('keepalive timeout');
    await expect(two.done).resolves.toMatch(/SSH connection lost: keepalive timeout/);
  });

  it('exits after being idle, and not while a client is connected', async () => {
    const mux = await startMux(localUpstream(), 300);
    const c = await openViaMux(muxSocketPath('test'), {});
    let done = false;
    void mux.done.then(() => (done = true));
    // Idle would have fired several times over by the end of these calls, were the client not counted.
    for (let i = 0; i < 10; i++) {
      await c!.conn.call(fsStat, { path: '/' });
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(done).toBe(false);
    await c!.conn.close();
    await expect(mux.done).resolves.toMatch(/idle for 300 ms/);
  });

  it('is stopped by a client of another version (it would put its own agent build back)', async () => {
    const up = localUpstream();
    const other: MuxUpstream = {
      ...up,
      open: async (refresh) => {
        const t = await up.open(refresh);
        return { ...t, agent: { ...t.agent, build: 'another-build' } };
      },
    };
    const mux = await startMux(other);
    expect(await openViaMux(muxSocketPath('test'), {})).toBeNull();
    await expect(mux.done).resolves.toBe('stop requested');
  });

  it('answers a bad request with an error line and closes', async () => {
    await startMux(localUpstream());
    for (const bad of ['not json', JSON.stringify({ v: 99 }), JSON.stringify({ v: MUX_WIRE_VERSION, refresh: 'yes' })]) {
      const s = await connectUnix(muxSocketPath('test'));
      s.write(bad + '\n');
      const line = await readLine(s, 5000);
      expect(parseReply(line!)).toMatchObject({ ok: false, error: expect.stringMatching(/bad mux request/) });
      s.destroy();
    }
  });

  it('replaces a stale socket file, but not a live mux', async () => {
    ensureMuxDir();
    writeFileSync(muxSocketPath('test'), '');
    await startMux(localUpstream());
    const second = new MuxServer(localUpstream(), { socketPath: muxSocketPath('test'), idleMs: 60_000 });
    await expect(second.listen()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    second.close('test');
    expect(await openViaMux(muxSocketPath('test'), {})).toBeTruthy();
  });

  it('does not use a mux whose directory others can enter', async () => {
    mkdirSync(`${fx.base}/run/mux`, { recursive: true, mode: 0o700 });
    chmodSync(`${fx.base}/run`, 0o700);
    chmodSync(`${fx.base}/run/mux`, 0o755);
    let touched = 0;
    const fake = createServer((s) => {
      touched++;
      s.destroy();
    });
    await new Promise<void>((r) => fake.listen(muxSocketPath('test'), r));
    try {
      expect(await openViaMux(muxSocketPath('test'), {})).toBeNull();
      expect(touched).toBe(0);
      expect(() => ensureMuxDir()).toThrow(/mode 0700/);
    } finally {
      fake.close();
    }
  });
});
