/**
 * resolvePlacement: what an agent start does with `<root>/storage.json`.
 * Real directories; the verification records are written as storage.verify
 * writes them.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { choosePlacement } from '../../agent/storage/detect.js';
import { mountFor, parseMountinfo } from '../../agent/storage/mountinfo.js';
import { resolvePlacement } from '../../agent/storage/placement.js';
import { readCache, savePlacement, writeVerifications } from '../../agent/storage/verified.js';
import { location } from './location.js';

let base: string;
let root: string;
let scratch: string;
beforeEach(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'clx-place-')));
  root = join(base, 'root');
  scratch = join(base, 'scratch');
  mkdirSync(root);
  mkdirSync(scratch);
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

const mountOf = (p: string) => mountFor(parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')), p)!.mountPoint;

function verify(path: string, shared: boolean): void {
  writeVerifications(root, [{ path, mountPoint: mountOf(path), shared, verifiedAt: Date.now(), evidence: 'test' }]);
}

/** What storage.verify saves when the root is not shared and `scratch` is. */
function chooseScratch(): void {
  const p = choosePlacement(root, [location('clustrix-root', root, false, true), location('scratch', scratch, true, true)]);
  expect(p.basis).toBe('verified-shared');
  savePlacement(root, { ...p, decidedAt: Date.now(), rootShared: false });
}

describe('placement at agent start', () => {
  it('keeps everything under the root when nothing was verified', () => {
    const p = resolvePlacement(root);
    expect(p).toMatchObject({ base: root, jobs: join(root, 'jobs'), envs: join(root, 'envs'), bundles: join(root, 'bundles') });
    expect(p.reason).toMatch(/has not been verified/);
  });

  it('keeps everything under the root when the root is verified shared, whatever was chosen', () => {
    verify(root, true);
    verify(scratch, true);
    chooseScratch();
    expect(resolvePlacement(root).base).toBe(root);
  });

  it('moves jobs, envs and bundles to the verified-shared location when the root is verified NOT shared', () => {
    verify(root, false);
    verify(scratch, true);
    chooseScratch();
    const p = resolvePlacement(root);
    const b = join(scratch, '.clustrix');
    expect(p).toMatchObject({ base: b, jobs: join(b, 'jobs'), envs: join(b, 'envs'), bundles: join(b, 'bundles') });
    expect(p.reason).toMatch(/verified NOT shared/);
    for (const d of [p.jobs, p.envs, p.bundles]) expect(existsSync(d)).toBe(true);
    expect(readCache(root).inUse).toMatchObject({ jobs: p.jobs, envs: p.envs });
  });

  it('does not move on a guess, nor to a location no longer verified shared', () => {
    verify(root, false);
    chooseScratch(); // chosen while scratch was verified shared…
    verify(scratch, false); // …which a later probe contradicted
    const p = resolvePlacement(root);
    expect(p.base).toBe(root);
    expect(p.reason).toMatch(/no longer verified shared/);
  });

  it('leaves job dirs where unfinished jobs are, and moves them at a start with none', () => {
    verify(root, false);
    verify(scratch, true);
    chooseScratch();
    mkdirSync(join(root, 'jobs', '.active'), { recursive: true });
    writeFileSync(join(root, 'jobs', '.active', 'm0abc123'), '');
    const p = resolvePlacement(root);
    expect(p.jobs).toBe(join(root, 'jobs'));
    expect(p.envs).toBe(join(scratch, '.clustrix', 'envs'));
    expect(p.reason).toMatch(/stay in .* while it holds 1 unfinished job/);
    rmSync(join(root, 'jobs', '.active', 'm0abc123'));
    const q = resolvePlacement(root);
    expect(q.jobs).toBe(join(scratch, '.clustrix', 'jobs'));
    expect(q.reason).toMatch(/moved from .*records of earlier jobs stay there/);
  });

  it('does not move back while the placed job dir holds unfinished jobs', () => {
    verify(root, false);
    verify(scratch, true);
    chooseScratch();
    const placed = resolvePlacement(root);
    mkdirSync(join(placed.jobs, '.active'));
    writeFileSync(join(placed.jobs, '.active', 'm0abc123'), '');
    verify(root, true); // the root turns out shared after all
    const p = resolvePlacement(root);
    expect(p.envs).toBe(join(root, 'envs'));
    expect(p.jobs).toBe(placed.jobs);
  });
});
