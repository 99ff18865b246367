/** Client ↔ agent session behaviour over a real Unix socket, with test methods. */
import { statSync } from 'node:fs';
import * as v from 'valibot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectionError, RemoteError } from '../../client/errors.js';
import { ProtocolError, returns, stream, unary } from '../../protocol/index.js';
import { Registry, startTestServer, type TestServer } from '../support/server.js';

const echo = unary('test.echo', v.object({ x: v.number() }), returns<{ x: number }>());
const slow = unary('test.slow', v.object({}), returns<string>());
const wait = unary('test.wait', v.object({}), returns<string>());
const boom = unary('test.boom', v.object({}), returns<never>());
const late = unary('test.late', v.object({}), returns<string>());
const count = stream('test.count', v.object({ n: v.number() }), returns<number>(), returns<{ sent: number }>());

let t: TestServer;
let release: () => void;
let sentByAgent = 0;
let waitAborted: Promise<string>;
let lateSaw: Promise<{ aborted: boolean; reason: string }>;

beforeEach(async () => {
  sentByAgent = 0;
  let resolveRelease!: () => void;
  const released = new Promise<void>((r) => (resolveRelease = r));
  release = resolveRelease;
  let onAbort!: (why: string) => void;
  waitAborted = new Promise<string>((r) => (onAbort = r));
  let onLate!: (saw: { aborted: boolean; reason: string }) => void;
  lateSaw = new Promise((r) => (onLate = r));
  const reg = new Registry()
    .unary(echo, (p) => ({ x: p.x }))
    .unary(slow, async () => {
      await released;
      return 'slow done';
    })
    .unary(
      wait,
      (_p, ctx) =>
        new Promise<string>((_res, rej) =>
          ctx.signal.addEventListener('abort', () => (onAbort(String((ctx.signal.reason as Error).message)), rej(ctx.signal.reason))),
        ),
    )
    .unary(late, async (_p, ctx) => {
      // Looks at its signal only after the cancel arrived (the agent makes the signal on first use).
      await released;
      onLate({ aborted: ctx.signal.aborted, reason: String((ctx.signal.reason as Error | undefined)?.message) });
      return 'late done';
    })
    .unary(boom, () => {
      throw new ProtocolError('EACCES', 'open /secret: permission denied', { path: '/secret' });
    })
    .stream(count, async (p, ctx) => {
      for (let i = 0; i < p.n; i++) {
        await ctx.send(i);
        sentByAgent++;
      }
      return { sent: p.n };
    });
  t = await startTestServer(reg, { streamWindowChunks: 4 });
});
afterEach(async () => {
  release();
  await t.close();
});

describe('session', () => {
  it('answers a typed call', async () => {
    const c = await t.connect();
    await expect(c.call(echo, { x: 41 })).resolves.toEqual({ x: 41 });
    expect(c.welcome.build).toBe('testbuild');
  });

  it('creates the socket 0600', () => {
    expect(statSync(t.socketPath).mode & 0o777).toBe(0o600);
  });

  it('does not let a slow request block others', async () => {
    const c = await t.connect();
    const s = c.call(slow, {});
    await expect(c.call(echo, { x: 1 })).resolves.toEqual({ x: 1 });
    release();
    await expect(s).resolves.toBe('slow done');
  });

  it('carries the error code, message and details of a handler failure', async () => {
    const c = await t.connect();
    const err = await c.call(boom, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toMatchObject({ code: 'EACCES', message: 'open /secret: permission denied', details: { path: '/secret' }, method: 'test.boom' });
  });

  it('rejects bad params with INVALID_PARAMS naming the field', async () => {
    const c = await t.connect();
    const err = await c.call(echo, { x: 'nope' as unknown as number }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INVALID_PARAMS' });
    expect((err as Error).message).toMatch(/test\.echo: params\.x: /);
  });

  it('cancels on the agent when the caller aborts', async () => {
    const c = await t.connect();
    const ac = new AbortController();
    const p = c.call(wait, {}, { signal: ac.signal });
    setImmediate(() => ac.abort());
    await expect(p).rejects.toMatchObject({ code: 'CANCELLED' });
    await expect(waitAborted).resolves.toMatch(/cancel/);
  });

  it('shows a cancel to a handler that looks at its signal only afterwards', async () => {
    const c = await t.connect();
    const ac = new AbortController();
    const p = c.call(late, {}, { signal: ac.signal });
    setImmediate(() => ac.abort());
    await expect(p).rejects.toMatchObject({ code: 'CANCELLED' });
    await c.call(echo, { x: 1 }); // the cancel frame has reached the agent
    release();
    await expect(lateSaw).resolves.toEqual({ aborted: true, reason: 'request cancelled' });
  });

  it('turns a timeout into a cancellation with code TIMEOUT', async () => {
    const c = await t.connect();
    await expect(c.call(wait, {}, { timeoutMs: 20 })).rejects.toMatchObject({ code: 'TIMEOUT', message: 'test.wait timed out after 20 ms' });
    await expect(waitAborted).resolves.toMatch(/cancel/);
  });

  it('times out long timeouts too (one sweep for all calls, not a timer each), and only the overdue calls', async () => {
    const c = await t.connect();
    const overdue = c.call(wait, {}, { timeoutMs: 1000 });
    const later = c.call(slow, {}, { timeoutMs: 60_000 });
    await expect(overdue).rejects.toMatchObject({ code: 'TIMEOUT', message: 'test.wait timed out after 1000 ms' });
    await expect(waitAborted).resolves.toMatch(/cancel/);
    release();
    await expect(later).resolves.toBe('slow done');
  });

  it('streams with flow control: the agent waits for acks', async () => {
    const c = await t.connect();
    const s = c.stream(count, { n: 100 });
    const it = s[Symbol.asyncIterator]();
    expect((await it.next()).value).toBe(0);
    // Without further reads the agent can be at most one window ahead.
    await new Promise((r) => setTimeout(r, 50));
    expect(sentByAgent).toBeLessThanOrEqual(1 + 4);
    const rest: number[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
    expect(rest).toEqual(Array.from({ length: 99 }, (_, i) => i + 1));
    await expect(s.result).resolves.toEqual({ sent: 100 });
  });

  it('cancels a stream when the consumer stops early', async () => {
    const c = await t.connect();
    const s = c.stream(count, { n: 1_000_000 });
    let seen = 0;
    for await (const _ of s) if (++seen === 3) break;
    await expect(s.result).rejects.toMatchObject({ code: 'CANCELLED' });
    const before = sentByAgent;
    await new Promise((r) => setTimeout(r, 30));
    expect(sentByAgent - before).toBeLessThanOrEqual(1);
    await expect(c.call(echo, { x: 2 })).resolves.toEqual({ x: 2 });
  });

  it('answers 10,000 concurrent calls on one connection', async () => {
    const c = await t.connect();
    const res = await Promise.all(Array.from({ length: 10_000 }, (_, i) => c.call(echo, { x: i })));
    expect(res.every((r, i) => r.x === i)).toBe(true);
  });

  it('rejects everything pending with one ConnectionError on close, and close is idempotent', async () => {
    const c = await t.connect();
    const pending = [c.call(slow, {}).catch((e: unknown) => e), c.call(slow, {}).catch((e: unknown) => e)];
    await c.close();
    await c.close();
    for (const p of pending) expect(await p).toBeInstanceOf(ConnectionError);
    await expect(c.call(echo, { x: 1 })).rejects.toMatchObject({ kind: 'closed' });
  });

  it('rejects pending calls when the agent goes away', async () => {
    const c = await t.connect();
    const p = c.call(slow, {});
    for (const s of t.server.sessions) s.close(1001, 'test shutdown');
    await expect(p).rejects.toMatchObject({ name: 'ConnectionError', kind: 'closed' });
  });

  it('refuses a wrong token as a handshake error', async () => {
    await expect(t.connect('b'.repeat(64))).rejects.toMatchObject({ kind: 'handshake', message: expect.stringMatching(/wrong agent token/) });
  });

  it('calls onIdle only after the last client leaves', async () => {
    let idle = 0;
    const reg = new Registry().unary(echo, (p) => p);
    const t2 = await startTestServer(reg, {}, 30, () => idle++);
    const c = await t2.connect();
    await new Promise((r) => setTimeout(r, 80));
    expect(idle).toBe(0);
    await c.close();
    await expect.poll(() => idle, { timeout: 2000 }).toBe(1);
    await t2.close();
  });
});
