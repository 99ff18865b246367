/**
 * The hello in the upgrade request (X-Clustrix-Hello): the agent answers
 * welcome right after the 101, so the client's connect is one round trip.
 * The header gets the same checks as a hello frame.
 */
import { createServer } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../client/connection.js';
import {
  decodeClientFrame,
  DEFAULT_LIMITS,
  encodeFrame,
  encodeHelloHeader,
  HELLO_HEADER,
  PROTOCOL_VERSION,
  returns,
  unary,
  type ClientFrame,
} from '../../protocol/index.js';
import { rawClient } from '../support/raw-client.js';
import { Registry, startTestServer, TOKEN, type TestServer } from '../support/server.js';

const echo = unary('test.echo', v.object({ x: v.number() }), returns<{ x: number }>());
let t: TestServer;

beforeAll(async () => {
  t = await startTestServer(new Registry().unary(echo, (p) => p));
});
afterAll(async () => t.close());

const header = (token: string, v = PROTOCOL_VERSION) => ({ [HELLO_HEADER]: encodeHelloHeader({ t: 'hello', v, token, client: 'test' }) });

describe('hello in the upgrade request', () => {
  it('is answered with welcome without any frame from the client', async () => {
    const c = await rawClient(t.socketPath, null, header(TOKEN));
    const [w] = await c.waitFrames(1);
    expect(w).toMatchObject({ t: 'welcome', v: PROTOCOL_VERSION });
    c.send({ t: 'req', id: 1, m: 'test.echo', p: { x: 3 } });
    expect((await c.waitFrames(2))[1]).toEqual({ t: 'res', id: 1, r: { x: 3 } });
    c.close();
  });

  it('refuses a wrong token like a hello frame (UNAUTHORIZED, close 4003)', async () => {
    const c = await rawClient(t.socketPath, null, header('b'.repeat(64)));
    const [f] = await c.waitFrames(1);
    expect(f).toMatchObject({ t: 'err', id: null, e: { code: 'UNAUTHORIZED', message: expect.stringContaining('wrong agent token') } });
    expect((await c.closed).code).toBe(4003);
  });

  it('refuses another protocol version with VERSION_MISMATCH (close 4002)', async () => {
    const c = await rawClient(t.socketPath, null, header(TOKEN, PROTOCOL_VERSION + 1));
    const [f] = await c.waitFrames(1);
    expect(f).toMatchObject({ t: 'err', e: { code: 'VERSION_MISMATCH', details: { agent: PROTOCOL_VERSION, client: PROTOCOL_VERSION + 1 } } });
    expect((await c.closed).code).toBe(4002);
  });

  it.each([
    ['not base64url', 'a b!', /not base64url/],
    ['too long', 'A'.repeat(5000), /over 4096/],
    ['truncated msgpack', Buffer.from([0x92, 0x01]).toString('base64url'), /not valid msgpack/],
    [
      'a request instead of hello',
      Buffer.from(encodeFrame({ t: 'req', id: 1, m: 'test.echo', p: { x: 1 } })).toString('base64url'),
      /first frame must be hello/,
    ],
  ])('answers a header that is %s with PROTOCOL and still takes a hello frame', async (_what, value, why) => {
    const c = await rawClient(t.socketPath, null, { [HELLO_HEADER]: value });
    const [f] = await c.waitFrames(1);
    expect(f).toMatchObject({ t: 'err', e: { code: 'PROTOCOL', message: expect.stringMatching(why) } });
    c.send({ t: 'hello', v: PROTOCOL_VERSION, token: TOKEN });
    expect((await c.waitFrames(2))[1]).toMatchObject({ t: 'welcome' });
    c.close();
  });

  it('lets Connection.open finish in one round trip: nothing is written after the first byte comes back', async () => {
    const sock: Socket = netConnect(t.socketPath);
    await new Promise((r) => sock.once('connect', r));
    const events: string[] = [];
    const write = sock.write.bind(sock) as (...a: unknown[]) => boolean;
    sock.write = (...a: unknown[]) => (events.push('write'), write(...a));
    sock.prependListener('data', () => events.push('data'));
    const conn = await Connection.open(sock, { token: TOKEN });
    expect(events[0]).toBe('write');
    expect(events.indexOf('write', events.indexOf('data'))).toBe(-1);
    expect(await conn.call(echo, { x: 5 })).toEqual({ x: 5 });
    await conn.close();
  });

  it('still connects to an agent that does not know the header (hello sent as a frame, no wait)', async () => {
    // An agent from before the header: a 101 without X-Clustrix-Hello, then it waits for a hello frame.
    const dir = mkdtempSync(join(tmpdir(), 'clx-old-agent-'));
    const wss = new WebSocketServer({ noServer: true });
    const http = createServer();
    const got: ClientFrame[] = [];
    http.on('upgrade', (req, socket, head) =>
      wss.handleUpgrade(req, socket, head, (ws) =>
        ws.once('message', (data: Buffer) => {
          got.push(decodeClientFrame(data, 1 << 20));
          ws.send(encodeFrame({ t: 'welcome', v: PROTOCOL_VERSION, build: 'old', pid: 1, host: 'old', limits: { ...DEFAULT_LIMITS } }));
        }),
      ),
    );
    await new Promise<void>((r) => http.listen(join(dir, 's'), r));
    try {
      const sock = netConnect(join(dir, 's'));
      await new Promise((r) => sock.once('connect', r));
      const conn = await Connection.open(sock, { token: TOKEN, timeoutMs: 5000 });
      expect(conn.welcome.build).toBe('old');
      expect(got).toEqual([{ t: 'hello', v: PROTOCOL_VERSION, token: TOKEN, client: 'clustrix' }]);
      await conn.close();
    } finally {
      wss.close();
      await new Promise((r) => http.close(r));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
