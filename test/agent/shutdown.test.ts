/**
 * Stopping the agent cancels what is running and waits (bounded) for the
 * handlers to clean up before the connections close and the process exits.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import * as v from 'valibot';
import { afterEach, describe, expect, it } from 'vitest';
import { RemoteError } from '../../client/errors.js';
import { returns, unary } from '../../protocol/index.js';
import { Registry, startTestServer, type TestServer } from '../support/server.js';

const tidy = unary('test.tidy', v.object({}), returns<string>());
const stubborn = unary('test.stubborn', v.object({}), returns<string>());
let t: TestServer | undefined;
afterEach(async () => t?.close());

describe('agent shutdown', () => {
  it('cancels running requests and waits for their clean-up before closing', async () => {
    const events: string[] = [];
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    t = await startTestServer(
      new Registry().unary(tidy, async (_p, ctx) => {
        started();
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
        events.push('aborted');
        await sleep(200); // removing markers on a slow filesystem, say
        events.push('cleaned up');
        throw new Error('stopped');
      }),
    );
    const c = await t.connect();
    const call = c.call(tidy, {}).catch((e: unknown) => e);
    await running;
    await t.server.close();
    events.push('closed');
    expect(events).toEqual(['aborted', 'cleaned up', 'closed']);
    const err = await call;
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toMatchObject({ code: 'CANCELLED', message: expect.stringContaining('the agent is stopping') });
  });

  it('does not wait longer than its grace period for a handler that never returns', async () => {
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    t = await startTestServer(
      new Registry().unary(stubborn, () => {
        started();
        return new Promise<string>(() => {});
      }),
    );
    const c = await t.connect();
    const call = c.call(stubborn, {}).catch((e: unknown) => e);
    await running;
    await t.server.close(300);
    expect(await call).toMatchObject({ code: 'CANCELLED' });
  });
});
