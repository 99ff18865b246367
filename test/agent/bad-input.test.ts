/**
 * Bad input never crashes the agent: every bad frame is answered with an
 * error that says what is wrong, and the connection (or, past the hard cap,
 * the agent) keeps serving.
 */
import fc from 'fast-check';
import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame, returns, unary } from '../../protocol/index.js';
import { rawClient } from '../support/raw-client.js';
import { Registry, startTestServer, TOKEN, type TestServer } from '../support/server.js';

const echo = unary('test.echo', v.object({ x: v.number() }), returns<{ x: number }>());
const MAX_FRAME = 64 * 1024;
let t: TestServer;

beforeAll(async () => {
  t = await startTestServer(
    new Registry().unary(echo, (p) => p),
    { maxFrameBytes: MAX_FRAME, maxInFlightRequests: 256 },
  );
});
afterAll(async () => t.close());

async function stillServes(): Promise<void> {
  const c = await rawClient(t.socketPath, TOKEN);
  c.send({ t: 'req', id: 1, m: 'test.echo', p: { x: 7 } });
  const [f] = await c.waitFrames(1);
  expect(f).toEqual({ t: 'res', id: 1, r: { x: 7 } });
  c.close();
}

describe('bad input', () => {
  it('answers random byte frames with PROTOCOL errors and keeps the connection', async () => {
    const c = await rawClient(t.socketPath, TOKEN);
    const samples = fc.sample(fc.uint8Array({ minLength: 1, maxLength: 200 }), { numRuns: 300, seed: 42 });
    for (const b of samples) c.sendBytes(b);
    const frames = await c.waitFrames(samples.length);
    for (const f of frames) {
      // Some random bytes decode to valid-looking maps; none may crash or go unanswered.
      expect(f.t).toBe('err');
    }
    c.send({ t: 'req', id: 99, m: 'test.echo', p: { x: 1 } });
    const all = await c.waitFrames(samples.length + 1);
    expect(all.at(-1)).toEqual({ t: 'res', id: 99, r: { x: 1 } });
    c.close();
  });

  it('answers every truncation of a valid request', async () => {
    const c = await rawClient(t.socketPath, TOKEN);
    const full = encodeFrame({ t: 'req', id: 5, m: 'test.echo', p: { x: 1 } });
    for (let n = 1; n < full.length; n++) c.sendBytes(full.subarray(0, n));
    const frames = await c.waitFrames(full.length - 1);
    expect(frames.every((f) => f.t === 'err' && f.id === null && f.e.code === 'PROTOCOL')).toBe(true);
    c.close();
  });

  it('answers an oversized frame with TOO_LARGE', async () => {
    const c = await rawClient(t.socketPath, TOKEN);
    c.send({ t: 'req', id: 1, m: 'test.echo', p: { x: 1, pad: new Uint8Array(MAX_FRAME + 10) } });
    const [f] = await c.waitFrames(1);
    expect(f).toMatchObject({ t: 'err', id: null, e: { code: 'TOO_LARGE' } });
    c.send({ t: 'req', id: 2, m: 'test.echo', p: { x: 2 } });
    expect((await c.waitFrames(2))[1]).toEqual({ t: 'res', id: 2, r: { x: 2 } });
    c.close();
  });

  it('closes (1009) a connection that sends a frame beyond the hard cap, and keeps serving others', async () => {
    const c = await rawClient(t.socketPath, TOKEN);
    c.sendBytes(new Uint8Array(MAX_FRAME * 2 + 1));
    expect((await c.closed).code).toBe(1009);
    await stillServes();
  });

  it('answers unknown methods, wrong param types, text frames, duplicate ids', async () => {
    const c = await rawClient(t.socketPath, TOKEN);
    c.send({ t: 'req', id: 1, m: 'no.such', p: {} });
    c.send({ t: 'req', id: 2, m: 'test.echo', p: { x: 'seven' } });
    c.send({ t: 'req', id: 3, m: 'test.echo', p: null });
    c.sendBytes('{"t":"req"}');
    const f = await c.waitFrames(4);
    expect(f[0]).toMatchObject({ t: 'err', id: 1, e: { code: 'UNKNOWN_METHOD', message: expect.stringContaining('no.such') } });
    expect(f[1]).toMatchObject({ t: 'err', id: 2, e: { code: 'INVALID_PARAMS', message: expect.stringContaining('params.x') } });
    expect(f[2]).toMatchObject({ t: 'err', id: 3, e: { code: 'INVALID_PARAMS' } });
    expect(f[3]).toMatchObject({ t: 'err', id: null, e: { code: 'PROTOCOL', message: expect.stringContaining('text messages') } });
    c.close();
  });

  it('requires hello first', async () => {
    const c = await rawClient(t.socketPath, null);
    c.send({ t: 'req', id: 1, m: 'test.echo', p: { x: 1 } });
    const [f] = await c.waitFrames(1);
    expect(f).toMatchObject({ t: 'err', id: 1, e: { code: 'PROTOCOL', message: expect.stringContaining('first frame must be hello') } });
    c.close();
  });

  it('answers each of 10,000 requests sent without waiting (result or BUSY)', async () => {
    const c = await rawClient(t.socketPath, TOKEN);
    for (let i = 1; i <= 10_000; i++) c.send({ t: 'req', id: i, m: 'test.echo', p: { x: i } });
    const frames = await c.waitFrames(10_000, 30_000);
    const ids = new Set<number>();
    for (const f of frames) {
      if (f.t === 'res') ids.add(f.id);
      else if (f.t === 'err' && f.e.code === 'BUSY' && f.id !== null) ids.add(f.id);
      else throw new Error(`unexpected frame ${JSON.stringify(f)}`);
    }
    expect(ids.size).toBe(10_000);
    c.close();
    await stillServes();
  });
});
