/**
 * How the client talks on its socket. Connection.close() says goodbye (a close frame the agent sees as a normal
 * close) and tears its socket down at once, without waiting for the agent's
 * answer: that wait was a round trip at the end of every script and command.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { Connection } from '../../client/connection.js';
import * as v from 'valibot';
import { decodeClientFrame, DEFAULT_LIMITS, encodeFrame, PROTOCOL_VERSION, returns, unary } from '../../protocol/index.js';
import { Registry, startTestServer, TOKEN } from '../support/server.js';

const echo = unary('test.echo', v.object({ x: v.number() }), returns<{ x: number }>());

it('sends a normal close frame and destroys the socket without waiting for the reply', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clx-close-'));
  // A stand-in agent: answers the hello frame, records how the client closes.
  const wss = new WebSocketServer({ noServer: true });
  const http = createServer();
  let closeCode: number | undefined;
  const gotClose = new Promise<void>((resolve) =>
    http.on('upgrade', (req, socket, head) =>
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.once('message', () => ws.send(encodeFrame({ t: 'welcome', v: PROTOCOL_VERSION, build: 'b', pid: 1, host: 'h', limits: { ...DEFAULT_LIMITS } })));
        ws.on('close', (code) => {
          closeCode = code;
          resolve();
        });
      }),
    ),
  );
  await new Promise<void>((r) => http.listen(join(dir, 's'), r));
  try {
    const sock = netConnect(join(dir, 's'));
    await new Promise((r) => sock.once('connect', r));
    const conn = await Connection.open(sock, { token: 'a'.repeat(64), timeoutMs: 5000 });
    const closing = conn.close();
    expect(sock.destroyed).toBe(true); // at once, not after the agent's answer
    await closing;
    await gotClose;
    expect(closeCode).toBe(1000);
  } finally {
    wss.close();
    await new Promise((r) => http.close(r));
    rmSync(dir, { recursive: true, force: true });
  }
});

it('sends its frames with a zero masking key (payload bytes as they are)', async () => {
  const t = await startTestServer(new Registry().unary(echo, (p) => p));
  try {
    const sock = netConnect(t.socketPath);
    await new Promise((r) => sock.once('connect', r));
    const conn = await Connection.open(sock, { token: TOKEN, timeoutMs: 5000 });
    const written: Buffer[] = [];
    const write = sock.write.bind(sock) as (...a: unknown[]) => boolean;
    sock.write = (chunk: unknown, ...rest: unknown[]) => (written.push(Buffer.from(chunk as Uint8Array)), write(chunk, ...rest));
    expect(await conn.call(echo, { x: 7 })).toEqual({ x: 7 });
    const frame = Buffer.concat(written);
    expect(frame[0]).toBe(0x82); // FIN, binary
    expect(frame[1]! & 0x80).toBe(0x80); // masked, as a client must
    const len = frame[1]! & 0x7f;
    expect(len).toBeLessThan(126);
    expect([...frame.subarray(2, 6)]).toEqual([0, 0, 0, 0]);
    expect(decodeClientFrame(frame.subarray(6, 6 + len), 1 << 20)).toMatchObject({ t: 'req', m: 'test.echo', p: { x: 7 } });
    await conn.close();
  } finally {
    await t.close();
  }
});
