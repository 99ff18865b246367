/**
 * The agent uses the placement at start: with a root verified NOT shared and
 * a verified-shared location chosen by a verification (the storage.json
 * storage.verify writes), job dirs and environments go there; the report
 * says where (`inUse`).
 */
import { existsSync, mkdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { choosePlacement } from '../../agent/storage/detect.js';
import { savePlacement, writeVerifications } from '../../agent/storage/verified.js';
import { localEnv, type LocalEnv } from '../support/local-agent.js';
import { location } from './location.js';

let env: LocalEnv;
afterEach(async () => env?.cleanup());

describe('placement used by the agent', () => {
  it('puts job dirs and environments in the verified-shared location when the root is verified not shared', async () => {
    env = localEnv();
    mkdirSync(env.root, { recursive: true });
    const root = realpathSync(env.root);
    const scratch = join(root, '..', 'scratch');
    mkdirSync(scratch);
    const mount = '/';
    writeVerifications(root, [
      { path: root, mountPoint: mount, shared: false, verifiedAt: Date.now(), evidence: 'test: root not shared' },
      { path: realpathSync(scratch), mountPoint: mount, shared: true, verifiedAt: Date.now(), evidence: 'test: scratch shared' },
    ]);
    const p = choosePlacement(root, [location('clustrix-root', root, false, true), location('scratch', realpathSync(scratch), true, true)]);
    savePlacement(root, { ...p, decidedAt: Date.now(), rootShared: false });
    const placed = join(realpathSync(scratch), '.clustrix');

    const c = await env.connect();
    const r = await c.storage({ quota: false });
    expect(r.inUse).toMatchObject({ base: placed, jobs: join(placed, 'jobs'), envs: join(placed, 'envs'), bundles: join(placed, 'bundles') });
    expect(r.inUse!.reason).toMatch(/verified NOT shared/);

    const job = await c.jobs.submit({ command: ['true'] });
    expect(job.info!.stdout.startsWith(join(placed, 'jobs', job.id) + '/')).toBe(true);
    expect((await job.wait()).state).toBe('COMPLETED');
    expect(existsSync(join(placed, 'jobs', job.id, 'job.json'))).toBe(true);
    expect(existsSync(join(root, 'jobs', job.id))).toBe(false);

    const e = await c.envs.ensure({ env: { CLX_PLACEMENT_TEST: '1' } });
    expect(e.path.startsWith(join(placed, 'envs') + '/')).toBe(true);
    await c.close();
  });
});
