/** Concurrent stat calls are coalesced into fs.statMany, and each caller still gets exactly its own answer. */
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Cluster } from '../../client/index.js';
import { fsStat } from '../../protocol/index.js';
import { localEnv, type LocalEnv } from '../support/local-agent.js';

let env: LocalEnv;
let c: Cluster;
let dir: string;

beforeAll(async () => {
  env = localEnv();
  c = await env.connect();
  dir = mkdtempSync('/tmp/clx-sb-');
  for (let i = 0; i < 50; i++) writeFileSync(join(dir, `f${i}`), 'x'.repeat(i));
  symlinkSync('f7', join(dir, 'link'));
});
afterAll(async () => {
  await c.close();
  await env.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('batched stat', () => {
  it('answers thousands of concurrent stats, each with its own result or error', async () => {
    const paths = Array.from({ length: 2500 }, (_, i) => (i % 10 === 9 ? join(dir, `missing-${i}`) : join(dir, `f${i % 50}`)));
    const settled = await Promise.allSettled(paths.map((p) => c.fs.stat(p)));
    settled.forEach((r, i) => {
      if (i % 10 === 9) {
        expect(r.status).toBe('rejected');
        expect((r as PromiseRejectedResult).reason).toMatchObject({ name: 'RemoteError', code: 'ENOENT', method: 'fs.stat' });
        expect(((r as PromiseRejectedResult).reason as Error).message).toContain(`missing-${i}`);
      } else {
        expect(r.status).toBe('fulfilled');
        expect((r as PromiseFulfilledResult<{ size: number }>).value.size).toBe(i % 50);
      }
    });
  });

  it('gives the same answer as a single stat', async () => {
    const p = join(dir, 'f3');
    const [, batched] = await Promise.all([c.fs.stat(join(dir, 'f4')), c.fs.stat(p), c.fs.stat(join(dir, 'f5'))]);
    const single = await c.connection.call(fsStat, { path: p });
    expect(batched).toEqual(single);
  });

  it('sends the first stat of a tick at once, alone, and batches the ones after it', async () => {
    const spy = vi.spyOn(c.connection, 'call');
    const sent = () => spy.mock.calls.map(([m]) => m.name);
    try {
      await c.fs.stat(join(dir, 'f1'));
      expect(sent()).toEqual(['fs.stat']);
      spy.mockClear();
      await Promise.all([c.fs.stat(join(dir, 'f1')), c.fs.stat(join(dir, 'f2')), c.fs.stat(join(dir, 'f3'))]);
      expect(sent()).toEqual(['fs.stat', 'fs.statMany']);
    } finally {
      spy.mockRestore();
    }
  });

  it('keeps lstat and stat apart within one tick', async () => {
    const link = join(dir, 'link');
    const [l, s] = await Promise.all([c.fs.lstat(link), c.fs.stat(link), c.fs.lstat(join(dir, 'f1')), c.fs.stat(join(dir, 'f1'))]);
    expect(l).toMatchObject({ type: 'symlink', target: 'f7' });
    expect(s).toMatchObject({ type: 'file', size: 7 });
  });
});
