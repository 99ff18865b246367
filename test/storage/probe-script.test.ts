/**
 * The probe script run by real /bin/sh against temp dirs with hostile names,
 * as argv (what the wrapper execs) and as the one sh line the wrapper writes
 * (every word single-quoted); the login-side marker helpers around it.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sq } from '../../agent/jobs/wrapper.js';
import { collectComputeMarkers, removeMarkers, writeLoginMarker } from '../../agent/storage/markers.js';
import { computeMarkerName, loginMarkerName, parseComputeMarker, probeArgv } from '../../agent/storage/probe-script.js';

const run = promisify(execFile);
const NONCE = '0123456789abcdef0123456789abcdef';
const HOSTILE = ["it's here", 'a b  c', '$(touch pwned)', 'new\nline', 'back`touch pwned2`tick', '*glob[x]?', '-dash', '"dq" \\ slash', ';;&&|'];

let base: string;
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'clx-probe-'));
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

function dirsOf(names: string[]): string[] {
  return names.map((n) => {
    const d = join(base, n);
    mkdirSync(d);
    return d;
  });
}

function seen(dir: string) {
  const p = join(dir, computeMarkerName(NONCE));
  return existsSync(p) ? parseComputeMarker(readFileSync(p, 'utf8')) : null;
}

describe('the probe script', () => {
  it('sees the login markers where they are, writes its own everywhere, with hostile directory names (argv)', async () => {
    const dirs = dirsOf(HOSTILE);
    const withMarker = dirs.filter((_, i) => i % 2 === 0);
    for (const d of withMarker) await writeLoginMarker(d, NONCE, 5000);
    const cwd = mkdtempSync(join(base, 'cwd-'));
    const argv = probeArgv(NONCE, dirs, 1);
    await run(argv[0]!, argv.slice(1), { cwd });
    const all = dirs.map((d) => (withMarker.includes(d) ? '1' : '0')).join('');
    dirs.forEach((d, i) => {
      const m = seen(d);
      expect(m, d).toMatchObject({ saw: withMarker.includes(d), index: i, all });
      expect(m!.host).toMatch(/^[A-Za-z0-9._-]+$/);
      expect(statSync(join(d, computeMarkerName(NONCE))).mode & 0o777).toBe(0o600);
      expect(readdirSync(d).filter((n) => n.includes('.tmp.'))).toEqual([]);
    });
    expect(readdirSync(cwd)).toEqual([]); // no $(…) or `…` ran
    expect(existsSync(join(base, 'pwned'))).toBe(false);
  });

  it('works the same as the single-quoted sh line the job wrapper writes', async () => {
    const dirs = dirsOf(HOSTILE);
    await writeLoginMarker(dirs[3]!, NONCE, 5000);
    const cwd = mkdtempSync(join(base, 'cwd-'));
    const line = probeArgv(NONCE, dirs, 1).map(sq).join(' ') + ' </dev/null';
    await run('/bin/sh', ['-c', line], { cwd });
    dirs.forEach((d, i) => expect(seen(d)?.saw, d).toBe(i === 3));
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('does not count a marker with the wrong content', async () => {
    const [d] = dirsOf(['x']);
    writeFileSync(join(d!, loginMarkerName(NONCE)), 'something else\n');
    const argv = probeArgv(NONCE, [d!], 1);
    await run(argv[0]!, argv.slice(1));
    expect(seen(d!)).toMatchObject({ saw: false, all: '0' });
  });

  it('skips a directory it cannot write, and still reports on it in the others', async () => {
    const dirs = dirsOf(['ok', 'gone']);
    rmSync(dirs[1]!, { recursive: true });
    await writeLoginMarker(dirs[0]!, NONCE, 5000);
    const argv = probeArgv(NONCE, dirs, 1);
    const r = await run(argv[0]!, argv.slice(1));
    expect(r.stderr).toBe('');
    expect(seen(dirs[0]!)).toMatchObject({ saw: true, all: '10' });
  });

  it('removes probe markers of ours older than a day, and leaves fresh ones of other probes', async () => {
    const [d] = dirsOf(['x']);
    const old = join(d!, '.clustrix-probe-aaaa.seen');
    const fresh = join(d!, '.clustrix-probe-bbbb');
    writeFileSync(old, '{}');
    writeFileSync(fresh, 'clustrix-probe bbbb\n');
    const twoDaysAgo = Date.now() / 1000 - 2 * 86400;
    utimesSync(old, twoDaysAgo, twoDaysAgo);
    const argv = probeArgv(NONCE, [d!], 1);
    await run(argv[0]!, argv.slice(1));
    expect(existsSync(old)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
  });

  it('refuses a nonce that is not hex and a relative dir', () => {
    expect(() => probeArgv("x'; rm -rf ~", ['/tmp'])).toThrow(/hex/);
    expect(() => probeArgv(NONCE, ['tmp'])).toThrow(/absolute/);
  });
});

describe('login-side markers', () => {
  it('writes the login marker 0600 and exclusively', async () => {
    const [d] = dirsOf(['x']);
    await writeLoginMarker(d!, NONCE, 5000);
    expect(statSync(join(d!, loginMarkerName(NONCE))).mode & 0o777).toBe(0o600);
    await expect(writeLoginMarker(d!, NONCE, 5000)).rejects.toThrow(/EEXIST/);
  });

  it('collects the markers there are, waits only for those still expected, and removes every one', async () => {
    const dirs = dirsOf(['a', 'b', 'c']);
    await writeLoginMarker(dirs[0]!, NONCE, 5000);
    await writeLoginMarker(dirs[2]!, NONCE, 5000);
    const argv = probeArgv(NONCE, dirs, 1);
    await run(argv[0]!, argv.slice(1));
    // As if b were the compute node's local disk: its marker there never reaches us.
    rmSync(join(dirs[1]!, computeMarkerName(NONCE)));
    // The compute node did not see our marker in b, so none of its own is expected there: no waiting at all.
    let waited: string[] | null = null;
    const found = await collectComputeMarkers(dirs, NONCE, { timeoutMs: 5000, windowMs: 600_000, onWait: (m) => (waited = m) });
    expect(waited).toBeNull();
    expect(found.map((m) => m?.saw ?? null)).toEqual([true, null, true]);
    for (const d of dirs) expect(await removeMarkers(d, NONCE, 5000)).toEqual([]);
    for (const d of dirs) expect(readdirSync(d)).toEqual([]);
  });

  it('gives up on a marker that never comes after the window, re-listing meanwhile', async () => {
    const dirs = dirsOf(['a']);
    let waited: string[] | null = null;
    const found = await collectComputeMarkers(dirs, NONCE, { timeoutMs: 5000, windowMs: 300, onWait: (m) => (waited = m) });
    expect(found).toEqual([null]);
    expect(waited).toEqual(dirs);
  });

  it('parses only markers the script writes', () => {
    expect(parseComputeMarker('{"host":"n1","saw":true,"index":0,"all":"1"}')).toEqual({ host: 'n1', saw: true, index: 0, all: '1' });
    expect(parseComputeMarker('{"host":"n1","saw":"yes","index":0,"all":"1"}')).toBeNull();
    expect(parseComputeMarker('{"host":"n1","saw":true,"index":0,"all":"12"}')).toBeNull();
    expect(parseComputeMarker('garbage')).toBeNull();
  });
});
