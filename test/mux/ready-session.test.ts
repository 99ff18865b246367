/**
 * Sessions upgraded ahead by the mux (client/mux/ready-session.ts) against a
 * real local agent: the mux answers a command's upgrade itself and the
 * command's calls work; the command's own upgrade request never reaches the
 * agent; a command with another token, or that sends no upgrade, gets a
 * plain channel and the agent's own answer.
 */
import { createConnection, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { connectUnix, runLocalAgent, startLocalAgent } from '../../client/local.js';
import { openViaMux } from '../../client/mux/client.js';
import { ensureMuxDir, muxSocketPath } from '../../client/mux/paths.js';
import { scanFrames, upgradeAhead, websocketAccept } from '../../client/mux/ready-session.js';
import { MuxServer, type MuxUpstream } from '../../client/mux/server.js';
import { MUX_WIRE_VERSION, readLine } from '../../client/mux/wire.js';
import { Connection } from '../../client/connection.js';
import { fsStat } from '../../protocol/index.js';
import { useMuxFixture } from '../support/mux-fixture.js';

const fx = useMuxFixture('/tmp/clx-ready-');

/** Wraps a stream and records what is written toward the agent after the ready session was handed over. */
function recording(inner: Duplex): { stream: Duplex; sent: () => string } {
  let sent = '';
  const origWrite = inner.write.bind(inner) as (chunk: unknown, ...rest: unknown[]) => boolean;
  (inner as unknown as { write: typeof origWrite }).write = (chunk: unknown, ...rest: unknown[]) => {
    if (Buffer.isBuffer(chunk) || typeof chunk === 'string') sent += Buffer.from(chunk as Buffer).toString('latin1');
    return origWrite(chunk, ...rest);
  };
  return { stream: inner, sent: () => sent };
}

/** An upstream that hands out sessions upgraded ahead (unless `plain`), and records what reached the agent on each. */
function readyUpstream(): MuxUpstream & { opens: { plain: boolean; sent: () => string }[] } {
  const opens: { plain: boolean; sent: () => string }[] = [];
  let info: Awaited<ReturnType<typeof startLocalAgent>> | null = null;
  return {
    opens,
    async open(refresh, plain) {
      if (!info || refresh) info = await startLocalAgent(fx.env.opts);
      const agent = { token: info.token, build: info.build, pid: info.pid, socket: info.socket, runDir: info.runDir, root: info.root, tunnel: 'test' };
      const sock = await connectUnix(info.socket);
      if (plain) {
        const r = recording(sock);
        opens.push({ plain: true, sent: r.sent });
        return { stream: r.stream, agent };
      }
      const ready = await upgradeAhead(sock, info.token, 'clustrix-cli', 5000);
      const r = recording(sock);
      opens.push({ plain: false, sent: r.sent });
      return { stream: r.stream, agent, ready };
    },
    onLost: () => {},
    close() {},
  };
}

/** A client socket past the mux's reply: what comes next goes to the channel. */
async function muxChannel(): Promise<Socket> {
  const sock = createConnection(muxSocketPath('ready'));
  await new Promise((r) => sock.once('connect', r));
  sock.write(JSON.stringify({ v: MUX_WIRE_VERSION, refresh: false }) + '\n');
  expect(await readLine(sock, 5000)).toMatch(/"ok":true/);
  return sock;
}

async function startMux(up: MuxUpstream): Promise<MuxServer> {
  ensureMuxDir();
  const s = new MuxServer(up, { socketPath: muxSocketPath('ready'), idleMs: 60_000 });
  fx.servers.push(s);
  await s.listen();
  return s;
}

describe('sessions upgraded ahead', () => {
  it('computes Sec-WebSocket-Accept as RFC 6455 does', () => {
    expect(websocketAccept('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it("answer a command's upgrade in the mux; its calls work; its upgrade request never reaches the agent", async () => {
    const up = readyUpstream();
    await startMux(up);
    const m = await openViaMux(muxSocketPath('ready'), {});
    expect(m).not.toBeNull();
    await expect(m!.conn.call(fsStat, { path: fx.base })).resolves.toMatchObject({ type: 'dir' });
    expect(m!.conn.welcome.build).toBe(m!.agent.build);
    expect(up.opens.map((o) => o.plain)).toEqual([false]);
    // What went to the agent after the hand-over: WebSocket frames only, no HTTP request of the command's.
    expect(up.opens[0]!.sent()).not.toMatch(/GET \/ HTTP/);
    expect(up.opens[0]!.sent().length).toBeGreaterThan(0);
    await m!.conn.close();
  });

  it('a command with another token gets a plain channel, and the agent refuses it as it would directly', async () => {
    const up = readyUpstream();
    await startMux(up);
    const sock = await muxChannel();
    await expect(Connection.open(sock, { token: 'not-the-token', timeoutMs: 5000 })).rejects.toThrow(/token|UNAUTHORIZED|refused/i);
    expect(up.opens.map((o) => o.plain)).toEqual([false, true]);
    // Its own upgrade went through to the agent on the plain channel.
    expect(up.opens[1]!.sent()).toMatch(/^GET \/ HTTP\/1\.1\r\n/);
  });

  it('bytes that are not an upgrade go to the agent as they are, on a plain channel', async () => {
    const up = readyUpstream();
    await startMux(up);
    const sock = await muxChannel();
    sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    // The agent's own answer to a plain HTTP request.
    const answer = await readLine(sock, 5000);
    expect(answer).toMatch(/^HTTP\/1\.1 426/);
    expect(up.opens.map((o) => o.plain)).toEqual([false, true]);
    sock.destroy();
  });

  it('scans server frames: complete ones counted, a close frame seen, a partial one left for later', () => {
    const frame = (op: number, len: number) => {
      const head = len < 126 ? Buffer.from([0x80 | op, len]) : Buffer.from([0x80 | op, 126, len >> 8, len & 0xff]);
      return Buffer.concat([head, Buffer.alloc(len, 1)]);
    };
    expect(scanFrames(frame(2, 40))).toEqual({ frames: 1, close: false });
    expect(scanFrames(Buffer.concat([frame(2, 300), frame(8, 2)]))).toEqual({ frames: 2, close: true });
    expect(scanFrames(frame(2, 300).subarray(0, 200))).toEqual({ frames: 0, close: false });
  });

  it('a session whose agent stops is no longer alive, and is closed at once', async () => {
    const info = await startLocalAgent(fx.env.opts);
    const ready = await upgradeAhead(await connectUnix(info.socket), info.token, 'clustrix-cli', 5000);
    await expect.poll(() => ready.alive(), { timeout: 5000 }).toBe(true); // its welcome came, nothing after
    await runLocalAgent(fx.env.opts, 'stop');
    await expect.poll(() => ready.alive(), { timeout: 5000 }).toBe(false);
    expect(ready.stream.destroyed).toBe(true);
  });

  it('upgradeAhead refuses a peer that does not answer like the agent', async () => {
    const fake = new Duplex({ read() {}, write: (_c, _e, cb) => cb() });
    const p = upgradeAhead(fake, 'tok', 'x', 2000);
    fake.push('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\r\n');
    await expect(p).rejects.toThrow(/wrong Sec-WebSocket-Accept/);
  });
});
