/** storage.detect and storage.markVerified through a real local agent on this machine. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mountFor, parseMountinfo } from '../../agent/storage/mountinfo.js';
import { markStorageVerified } from '../../client/storage.js';
import { localEnv, type LocalEnv } from '../support/local-agent.js';

let env: LocalEnv;
afterEach(async () => env?.cleanup());

/** `df -B1 --output=size,avail PATH` → [size, avail] in bytes. */
function df(path: string): [number, number] {
  const out = execFileSync('df', ['-B1', '--output=size,avail', path], { encoding: 'utf8' }).trim().split('\n')[1]!.trim().split(/\s+/);
  return [Number(out[0]), Number(out[1])];
}

describe('storage detection on this machine', () => {
  it('reports /tmp and the root with the mount table fs types and df capacities', async () => {
    env = localEnv();
    const c = await env.connect();
    const r = await c.storage();
    const mounts = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
    const tmp = r.locations.find((l) => l.kind === 'tmp');
    const root = r.locations.find((l) => l.kind === 'clustrix-root');
    expect(tmp?.exists).toBe(true);
    expect(root?.exists).toBe(true);
    for (const l of [tmp!, root!]) {
      const m = mountFor(mounts, l.realPath!)!;
      expect(l.fsType).toBe(m.fsType);
      expect(l.mountPoint).toBe(m.mountPoint);
      const [size, avail] = df(l.realPath!);
      const block = 4096;
      expect(Math.abs(l.totalBytes! - size)).toBeLessThanOrEqual(block);
      // Free space moves while tests run: within 64 MiB.
      expect(Math.abs(l.availBytes! - avail)).toBeLessThanOrEqual(64 << 20);
      expect(l.verified).toBe(false);
    }
    expect(tmp!.shared).toBe(false); // node-local by convention
    expect(r.placement.jobs).toBe(join(r.placement.base, 'jobs'));
    expect(r.user).toBeTruthy();
    await c.close();
  });

  it('reports the filesystem "/" is on, as the mount table says', async () => {
    env = localEnv();
    const c = await env.connect();
    const r = await c.storage({ quota: false });
    const mounts = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
    const rootFs = mountFor(mounts, '/')!;
    const onRoot = r.locations.filter((l) => l.mountPoint === '/');
    if (rootFs.mountPoint === '/' && !mounts.some((m) => m.mountPoint === '/tmp')) expect(onRoot.map((l) => l.path)).toContain('/tmp');
    expect(onRoot.length).toBeGreaterThan(0);
    for (const l of onRoot) expect(l.fsType).toBe(rootFs.fsType);
    for (const l of r.locations) if (l.exists) expect(l.quotaReason === 'quota not requested' || l.quota !== null || l.fsType === 'tmpfs').toBe(true);
    await c.close();
  });

  it('gives quota null with a reason when no quota tool exists', async () => {
    env = localEnv();
    const c = await env.connect();
    const r = await c.storage();
    const tmp = r.locations.find((l) => l.kind === 'tmp')!;
    const hasQuotaTool = execFileSync('/bin/sh', ['-c', 'command -v quota || true'], { encoding: 'utf8' }).trim() !== '';
    if (!hasQuotaTool && tmp.fsType !== 'tmpfs') expect(tmp).toMatchObject({ quota: null, quotaReason: 'quota not found' });
    else expect(tmp.quota !== null || /\S/.test(tmp.quotaReason ?? '')).toBe(true);
    await c.close();
  });

  it('applies a probe verification to every location on that mount and uses it for placement', async () => {
    env = localEnv();
    const c = await env.connect();
    const rec = await markStorageVerified(c.connection, { path: env.root, shared: true, evidence: 'test probe on node n001' });
    expect(rec.shared).toBe(true);
    expect(JSON.parse(readFileSync(join(env.root, 'storage.json'), 'utf8')).verified[rec.path].evidence).toBe('test probe on node n001');
    const r = await c.storage({ quota: false });
    const root = r.locations.find((l) => l.kind === 'clustrix-root')!;
    expect(root).toMatchObject({ shared: true, verified: true, mountPoint: rec.mountPoint });
    expect(root.verifiedAt).toBe(rec.verifiedAt);
    expect(r.placement).toMatchObject({ base: env.root, basis: 'verified-shared' });
    // Other locations on the same mount get the record too, saying where it came from.
    const other = r.locations.find((l) => l.kind !== 'clustrix-root' && l.mountPoint === rec.mountPoint && l.realPath !== rec.path);
    if (other) expect(other).toMatchObject({ shared: true, verified: true, sharedReason: expect.stringContaining(`on ${rec.path}, same mount`) as string });
    await c.close();
  });
});
