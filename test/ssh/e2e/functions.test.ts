/**
 * Functions over SSH against the real sshd testbed: the module is bundled on
 * this side, uploaded through the tunnel (once), run as a job by the remote
 * agent (local scheduler on that host), and its result, exception and
 * progress come back — through stream-local forwarding and through the exec
 * bridge of the server that forbids forwarding.
 */
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Cluster } from '../../../client/cluster.js';
import { connect } from '../../../client/index.js';
import { makeFixture, type FunctionsFixture } from '../../functions/fixture.js';
import type * as Work from '../../functions/fixture-types.js';
import { describeSsh, login, sandbox } from './bed.js';

describeSsh('ssh e2e: functions', () => {
  const box = sandbox('fn');
  let fx: FunctionsFixture;
  let c: Cluster;
  beforeAll(async () => {
    fx = makeFixture();
    c = await connect(login('main'), box.opts());
  });
  afterAll(async () => {
    await c?.close();
    await box.cleanup();
    fx?.cleanup();
  });

  it('runs a function, uploading its bundle once, and maps over items as one job array', async () => {
    const work = pathToFileURL(fx.work);
    const first = c.run<typeof Work.add>(work, 'add', [20, 2], { scheduler: 'local' });
    expect(await first).toBe(42);
    expect((await first.submitted)!.bundle.uploaded).toBe(true);
    const again = c.run<typeof Work.add>(work, 'add', [1, 1], { scheduler: 'local' });
    expect(await again).toBe(3);
    expect((await again.submitted)!.bundle.uploaded).toBe(false);
    const events: unknown[] = [];
    const squares = c.map<typeof Work.square>(work, 'square', [1, 2, 3], { scheduler: 'local' });
    for await (const ev of squares) events.push(ev.item);
    expect((await squares).map((r) => r.sq)).toEqual([1, 4, 9]);
    expect(events.sort()).toEqual([0, 1, 2]);
  }, 120_000);

  it('keeps waiting through an agent restart: the call still resolves with its result', async () => {
    const call = c.run<typeof Work.sleepy>(pathToFileURL(fx.work), 'sleepy', [2000], { scheduler: 'local' });
    for await (const ev of call) {
      expect(ev.data).toBe('started');
      break;
    }
    const pid = (await c.info()).pid;
    expect((await box.sh(`kill -9 ${pid} && echo killed`)).stdout).toContain('killed');
    // The SSH connection reconnects (a new agent adopts the running job); the call waits on.
    expect(await call).toBe('woke');
    expect((await c.info()).pid).not.toBe(pid);
  }, 120_000);

  it('brings the remote exception back through the exec bridge too', async () => {
    const bridged = await connect(login('noforward'), box.opts());
    try {
      const err = (await bridged
        .run<typeof Work.failQuota>(pathToFileURL(fx.work), 'failQuota', [], { scheduler: 'local' })
        .catch((e: unknown) => e)) as Error & {
        code?: string;
      };
      expect(err.name).toBe('QuotaError');
      expect(err.code).toBe('EQUOTA');
      expect(err.stack).toMatch(/failQuota .*work\.ts:\d+:\d+/);
    } finally {
      await bridged.close();
    }
  }, 120_000);
});
