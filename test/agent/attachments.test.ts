/**
 * Request attachments (RequestFrame.b): a `req` with `b` is followed by `b`
 * raw bytes, which the agent puts into the params field the method names.
 * Checked from both ends: the agent against a raw WebSocket client (what it
 * accepts, and that a refused request's attachment is skipped, never read as
 * a frame), and the client's wire (bulk bytes go raw to an agent that
 * announces the feature, inside the frame to one that does not).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { ATTACH_MIN_BYTES, Connection } from '../../client/connection.js';
import { Bytes, decodeClientFrame, DEFAULT_LIMITS, encodeFrame, FEATURES, PROTOCOL_VERSION, returns, unary, type ClientFrame } from '../../protocol/index.js';
import { rawClient } from '../support/raw-client.js';
import { Registry, startTestServer, TOKEN, type TestServer } from '../support/server.js';

const put = unary('test.put', v.object({ tag: v.string(), data: Bytes }), returns<{ tag: string; bytes: number; sha256: string }>(), { attachment: 'data' });
const echo = unary('test.echo', v.object({ x: v.number() }), returns<{ x: number }>());
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const bytes = (n: number, seed = 1) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) % 251));

let t: TestServer;
let echoed = 0;
beforeAll(async () => {
  const reg = new Registry().unary(put, (p) => ({ tag: p.tag, bytes: p.data.byteLength, sha256: sha(p.data) })).unary(echo, (p) => (echoed++, { x: p.x }));
  t = await startTestServer(reg, { maxFrameBytes: 1 << 20 });
});
afterAll(() => t.close());

describe('the agent', () => {
  it('announces attachments in welcome', async () => {
    const c = await t.connect();
    expect(c.welcome.features).toContain(FEATURES.attachments);
  });

  it('puts the attachment into the params field the method names', async () => {
    const c = await rawClient(t.socketPath, TOKEN);
    const data = bytes(5000);
    c.send({ t: 'req', id: 1, m: 'test.put', p: { tag: 'a' }, b: data.length });
    c.sendBytes(data);
    const [f] = await c.waitFrames(1);
    expect(f).toEqual({ t: 'res', id: 1, r: { tag: 'a', bytes: 5000, sha256: sha(data) } });
    c.close();
  });

  it('takes an attachment that is itself a valid frame as data, not as a request', async () => {
    const c = await rawClient(t.socketPath, TOKEN);
    const before = echoed;
    const inner = encodeFrame({ t: 'req', id: 2, m: 'test.echo', p: { x: 1 } });
    c.send({ t: 'req', id: 1, m: 'test.put', p: { tag: 'frame-like' }, b: inner.byteLength });
    c.sendBytes(inner);
    c.send({ t: 'req', id: 3, m: 'test.echo', p: { x: 3 } });
    const frames = await c.waitFrames(2);
    expect(frames).toEqual([
      { t: 'res', id: 1, r: { tag: 'frame-like', bytes: inner.byteLength, sha256: sha(inner) } },
      { t: 'res', id: 3, r: { x: 3 } },
    ]);
    expect(echoed).toBe(before + 1); // only id 3 ran
    c.close();
  });

  // Each refused request's attachment is a valid echo frame: were it read as a frame, id 99 would be answered.
  const refusals: [string, (c: Awaited<ReturnType<typeof rawClient>>, att: Uint8Array) => void, string][] = [
    [
      'a length other than announced',
      (c, att) => (c.send({ t: 'req', id: 1, m: 'test.put', p: { tag: 'x' }, b: att.byteLength + 1 }), c.sendBytes(att)),
      'PROTOCOL',
    ],
    [
      'a method without an attachment field',
      (c, att) => (c.send({ t: 'req', id: 1, m: 'test.echo', p: { x: 1 }, b: att.byteLength }), c.sendBytes(att)),
      'INVALID_PARAMS',
    ],
    ['an unknown method', (c, att) => (c.send({ t: 'req', id: 1, m: 'test.nope', p: {}, b: att.byteLength }), c.sendBytes(att)), 'UNKNOWN_METHOD'],
    [
      'the field given twice',
      (c, att) => (c.send({ t: 'req', id: 1, m: 'test.put', p: { tag: 'x', data: new Uint8Array(1) }, b: att.byteLength }), c.sendBytes(att)),
      'INVALID_PARAMS',
    ],
    [
      'params that fail validation',
      (c, att) => (c.send({ t: 'req', id: 1, m: 'test.put', p: { tag: 5 }, b: att.byteLength }), c.sendBytes(att)),
      'INVALID_PARAMS',
    ],
    ['a size over maxFrameBytes', (c, att) => (c.send({ t: 'req', id: 1, m: 'test.put', p: { tag: 'x' }, b: (1 << 20) + 1 }), c.sendBytes(att)), 'TOO_LARGE'],
    [
      'a text message as the attachment',
      (c, att) => (c.send({ t: 'req', id: 1, m: 'test.put', p: { tag: 'x' }, b: 3 }), c.sendBytes(Buffer.from(att).toString('latin1'))),
      'PROTOCOL',
    ],
    ['a bad b', (c, att) => (c.send({ t: 'req', id: 1, m: 'test.put', p: { tag: 'x' }, b: -1 }), c.sendBytes(att)), 'PROTOCOL'],
    ['a bad frame with a b', (c, att) => (c.send({ t: 'req', id: 0, m: 'test.put', p: { tag: 'x' }, b: att.byteLength }), c.sendBytes(att)), 'PROTOCOL'],
  ];
  for (const [what, send, code] of refusals) {
    it(`refuses ${what} (${code}) and skips its attachment`, async () => {
      const c = await rawClient(t.socketPath, TOKEN);
      send(c, encodeFrame({ t: 'req', id: 99, m: 'test.echo', p: { x: 99 } }));
      c.send({ t: 'req', id: 2, m: 'test.echo', p: { x: 2 } });
      const frames = await c.waitFrames(2);
      expect(frames[0]).toMatchObject({ t: 'err', e: { code } });
      expect(frames[1]).toEqual({ t: 'res', id: 2, r: { x: 2 } });
      c.close();
    });
  }
});

/** A stand-in agent that records the client's messages and answers each req with { got: params }. */
async function recordingAgent(features: string[] | undefined) {
  const dir = mkdtempSync(join(tmpdir(), 'clx-att-'));
  const wss = new WebSocketServer({ noServer: true });
  const http = createServer();
  const messages: Buffer[] = [];
  http.on('upgrade', (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) => {
      let first = true;
      let attachmentOf: ClientFrame | null = null;
      ws.on('message', (data: Buffer) => {
        if (first) {
          first = false;
          const welcome = { t: 'welcome', v: PROTOCOL_VERSION, build: 'b', pid: 1, host: 'h', limits: { ...DEFAULT_LIMITS } };
          ws.send(encodeFrame((features ? { ...welcome, features } : welcome) as never));
          return;
        }
        messages.push(data);
        if (attachmentOf?.t === 'req') {
          ws.send(encodeFrame({ t: 'res', id: attachmentOf.id, r: { attachment: data.length } }));
          attachmentOf = null;
          return;
        }
        const f = decodeClientFrame(data, 1 << 30);
        if (f.t === 'req' && f.b !== undefined) attachmentOf = f;
        else if (f.t === 'req') ws.send(encodeFrame({ t: 'res', id: f.id, r: { inline: true } }));
      });
    }),
  );
  await new Promise<void>((r) => http.listen(join(dir, 's'), r));
  const sock = netConnect(join(dir, 's'));
  await new Promise((r) => sock.once('connect', r));
  const conn = await Connection.open(sock, { token: 'a'.repeat(64), timeoutMs: 5000 });
  return {
    conn,
    messages,
    async close() {
      await conn.close();
      wss.close();
      await new Promise((r) => http.close(r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('the client', () => {
  it('sends bulk bytes as the attachment, right after a frame that announces them', async () => {
    const a = await recordingAgent([FEATURES.attachments]);
    try {
      const data = bytes(ATTACH_MIN_BYTES + 10);
      expect(await a.conn.call(put, { tag: 't', data })).toEqual({ attachment: data.length });
      expect(a.messages).toHaveLength(2);
      expect(decodeClientFrame(a.messages[0]!, 1 << 30)).toEqual({ t: 'req', id: 1, m: 'test.put', p: { tag: 't' }, b: data.length });
      expect(a.messages[1]!.equals(data)).toBe(true);
    } finally {
      await a.close();
    }
  });

  it('keeps small bytes, and everything to an agent that does not announce attachments, inside the frame', async () => {
    for (const [features, size] of [
      [[FEATURES.attachments], ATTACH_MIN_BYTES - 1],
      [undefined, ATTACH_MIN_BYTES * 4],
    ] as const) {
      const a = await recordingAgent(features as string[] | undefined);
      try {
        const data = bytes(size);
        expect(await a.conn.call(put, { tag: 't', data })).toEqual({ inline: true });
        expect(a.messages).toHaveLength(1);
        const f = decodeClientFrame(a.messages[0]!, 1 << 30) as { p: { data: Uint8Array } };
        expect(Buffer.from(f.p.data).equals(data)).toBe(true);
      } finally {
        await a.close();
      }
    }
  });
});
