/** The reconnecting connection over a real in-process agent server (no SSH). */
import * as v from 'valibot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectionError } from '../../client/errors.js';
import { ReconnectingConnection } from '../../client/ssh/reconnect.js';
import { agentPing, returns, stream, unary } from '../../protocol/index.js';
import { Registry, startTestServer, type TestServer } from '../support/server.js';

const write = unary('test.write', v.object({}), returns<string>());
const nums = stream('test.nums', v.object({ n: v.number() }), returns<number>(), returns<{ n: number }>());

let t: TestServer;
let pingGate: Promise<void> | null = null;
let reopened = 0;

beforeEach(async () => {
  reopened = 0;
  const reg = new Registry()
    .unary(agentPing, async () => {
      if (pingGate) await pingGate;
      return { now: Date.now() };
    })
    .unary(write, () => new Promise<string>(() => {}))
    .stream(nums, async (p, ctx) => {
      for (let i = 0; i < p.n; i++) await ctx.send(i);
      return { n: p.n };
    });
  t = await startTestServer(reg);
});
afterEach(async () => {
  pingGate = null;
  await t.close();
});

async function make(): Promise<ReconnectingConnection> {
  return new ReconnectingConnection(await t.connect(), {
    reopen: async () => {
      reopened++;
      return t.connect();
    },
  });
}

describe('ReconnectingConnection', () => {
  it('reconnects on the next call after the link dropped between calls', async () => {
    const rc = await make();
    await rc.current.close('link dropped');
    expect(rc.closed).toBe(false);
    await expect(rc.call(agentPing, {})).resolves.toHaveProperty('now');
    expect(reopened).toBe(1);
    await rc.close();
  });

  it('starts a stream on a fresh connection when needed', async () => {
    const rc = await make();
    await rc.current.close('link dropped');
    const s = rc.stream(nums, { n: 3 });
    const got: number[] = [];
    for await (const x of s) got.push(x);
    expect(got).toEqual([0, 1, 2]);
    await expect(s.result).resolves.toEqual({ n: 3 });
    await rc.close();
  });

  it('retries a read-only call in flight once, but never a call with side effects', async () => {
    const rc = await make();
    let open!: () => void;
    pingGate = new Promise((r) => (open = r));
    const ping = rc.call(agentPing, {});
    const w = rc.call(write, {});
    await new Promise((r) => setTimeout(r, 50));
    pingGate = null;
    const checks = Promise.all([expect(w).rejects.toMatchObject({ kind: 'closed' }), expect(ping).resolves.toHaveProperty('now')]);
    await rc.current.close('link dropped'); // the first ping is still parked on the old connection
    await checks;
    open();
    expect(reopened).toBe(1);
    await rc.close();
  });

  it('after close(), calls fail with closed and nothing reconnects', async () => {
    const rc = await make();
    await rc.close();
    await expect(rc.call(agentPing, {})).rejects.toBeInstanceOf(ConnectionError);
    expect(reopened).toBe(0);
  });

  it('reports a better reason (e.g. keepalive timeout) when it knows one', async () => {
    const why = new ConnectionError('timeout', 'SSH keepalive timeout: host did not answer 3 keepalives');
    const rc = new ReconnectingConnection(await t.connect(), { reopen: () => Promise.reject(new ConnectionError('closed', 'ssh gone')), explain: () => why });
    const w = expect(rc.call(write, {})).rejects.toBe(why);
    await rc.current.close('socket closed');
    await w;
    await expect(rc.call(agentPing, {})).rejects.toBe(why);
    await rc.close();
  });
});
