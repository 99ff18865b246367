/**
 * The agent's V8 code cache (agent/code-cache.ts, agent/launch.ts): the built
 * agent writes its cache beside itself and uses it on the next start; a cache
 * V8 rejects is replaced; nothing is read from a file or directory someone
 * else could have written, or through a symlink; CLUSTRIX_CODE_CACHE=off.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeCacheFile, codeCacheMode, readCodeCache, writeCodeCache } from '../../agent/code-cache.js';
import { BUNDLE } from '../support/local-agent.js';

let base: string;
beforeAll(() => {
  base = mkdtempSync('/tmp/clx-codecache-');
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** A private dir holding a copy of the built agent, as an install makes it. */
function installDir(name: string): string {
  const dir = join(base, name);
  mkdirSync(dir, { mode: 0o700 });
  copyFileSync(BUNDLE, join(dir, 'agent.mjs'));
  return dir;
}

function runAgent(dir: string, env: NodeJS.ProcessEnv = { CLUSTRIX_CODE_CACHE: 'report' }) {
  const r = spawnSync(process.execPath, [join(dir, 'agent.mjs'), 'version'], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, caches: readdirSync(dir).filter((f) => f.startsWith('code-')) };
}

describe('agent code cache (built agent)', () => {
  it('is written beside the agent on the first start and used on the next', () => {
    const dir = installDir('fresh');
    const first = runAgent(dir);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ protocol: expect.any(Number) as unknown });
    expect(first.stderr).toMatch(/code cache miss, written/);
    expect(first.caches).toHaveLength(1);
    expect(statSync(join(dir, first.caches[0]!)).mode & 0o777).toBe(0o600);
    const second = runAgent(dir);
    expect(second.stderr).toMatch(/code cache hit/);
    expect(second.stdout).toBe(first.stdout);
  });

  it('replaces a cache V8 rejects, and the agent still runs', () => {
    const dir = installDir('rejected');
    runAgent(dir);
    const [cache] = readdirSync(dir).filter((f) => f.startsWith('code-'));
    writeFileSync(join(dir, cache!), Buffer.alloc(4096, 7), { mode: 0o600 });
    const r = runAgent(dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/code cache rejected, written/);
    expect(runAgent(dir).stderr).toMatch(/code cache hit/);
  });

  it('ignores a cache in a directory others may write, and writes none there', () => {
    const dir = installDir('open');
    chmodSync(dir, 0o777);
    const r = runAgent(dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/code cache miss, not written/);
    expect(r.caches).toEqual([]);
  });

  it('does nothing with CLUSTRIX_CODE_CACHE=off', () => {
    const dir = installDir('off');
    const r = runAgent(dir, { CLUSTRIX_CODE_CACHE: 'off' });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.caches).toEqual([]);
    expect(codeCacheMode({ CLUSTRIX_CODE_CACHE: 'off' })).toBe('off');
    expect(codeCacheMode({})).toBe('on');
  });
});

describe('agent code cache (reading and writing)', () => {
  const script = () => {
    const s = new Script('(function () { return 1 + 1; })');
    s.runInThisContext();
    return s;
  };

  it('reads only a regular file of ours that nobody else may write, never through a symlink', () => {
    const dir = join(base, 'unit');
    mkdirSync(dir, { mode: 0o755 });
    const file = codeCacheFile(dir, 'a'.repeat(16));
    expect(readCodeCache(file, dir)).toBeUndefined(); // missing
    expect(writeCodeCache(script(), file, dir)).toBe(true);
    expect(readCodeCache(file, dir)?.length).toBeGreaterThan(0);
    chmodSync(file, 0o620);
    expect(readCodeCache(file, dir)).toBeUndefined(); // group-writable
    chmodSync(file, 0o600);
    const link = codeCacheFile(dir, 'b'.repeat(16));
    symlinkSync(file, link);
    expect(readCodeCache(link, dir)).toBeUndefined(); // a symlink
    chmodSync(dir, 0o775);
    expect(readCodeCache(file, dir)).toBeUndefined(); // the directory is group-writable
    expect(writeCodeCache(script(), file, dir)).toBe(false);
    chmodSync(dir, 0o755);
  });

  it.skipIf(process.getuid?.() !== 0)('reads no file another user owns (needs root to make one)', () => {
    const dir = join(base, 'other');
    mkdirSync(dir, { mode: 0o755 });
    const file = codeCacheFile(dir, 'c'.repeat(16));
    expect(writeCodeCache(script(), file, dir)).toBe(true);
    chownSync(file, 65534, 65534);
    expect(readCodeCache(file, dir)).toBeUndefined();
    chownSync(dir, 65534, 65534);
    chownSync(file, 0, 0);
    expect(readCodeCache(file, dir)).toBeUndefined(); // nor from another user's directory
  });
});
