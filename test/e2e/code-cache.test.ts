/**
 * The CLI's V8 code cache (client/cli/code-cache.ts), through the built
 * dist/cli.mjs: written on a miss, used on the next run, refused from places
 * others could write, replaced when V8 rejects it, off on request. Whatever
 * happens to the cache, the command's output and exit code are the same.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli.mjs');
let base: string;
let n = 0;

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'clx-codecache-'));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  /** The report line's verdict, e.g. "miss, written" or "hit". */
  report: string;
}

function clustrix(cacheDir: string, args: string[], mode = 'report'): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    env: { ...process.env, CLUSTRIX_CACHE_DIR: cacheDir, CLUSTRIX_CODE_CACHE: mode },
    encoding: 'utf8',
  });
  const m = /clustrix: code cache (.*) \(/.exec(r.stderr);
  return { code: r.status, stdout: r.stdout, report: m?.[1] ?? '' };
}

function freshDir(): string {
  return join(base, `c${++n}`);
}

const binFiles = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.bin'));

describe('CLI code cache', () => {
  it('is written on the first run (0600 in a 0700 dir) and used by the next, with the same output', () => {
    const dir = freshDir();
    const first = clustrix(dir, ['--help']);
    expect(first.report).toBe('miss, written');
    const code = join(dir, 'code');
    expect(statSync(code).mode & 0o777).toBe(0o700);
    const [file] = binFiles(code);
    expect(file).toMatch(/^cli-[0-9a-f]{16}-v8-.+\.bin$/);
    expect(statSync(join(code, file!)).mode & 0o777).toBe(0o600);

    const second = clustrix(dir, ['--help']);
    expect(second.report).toBe('hit');
    expect(second.stdout).toBe(first.stdout);
    expect(second.stdout).toContain('Usage: clustrix');
    expect(second.code).toBe(0);
  });

  it('a cache V8 rejects is replaced, and the command still runs', () => {
    const dir = freshDir();
    clustrix(dir, ['--help']);
    const code = join(dir, 'code');
    const file = join(code, binFiles(code)[0]!);
    writeFileSync(file, Buffer.alloc(4096, 7), { mode: 0o600 });
    const r = clustrix(dir, ['--help']);
    expect(r.report).toBe('rejected, written');
    expect(r.stdout).toContain('Usage: clustrix');
    expect(readFileSync(file).equals(Buffer.alloc(4096, 7))).toBe(false);
    expect(clustrix(dir, ['--help']).report).toBe('hit');
  });

  it('a cache file others may write is not read; it is rewritten as 0600', () => {
    const dir = freshDir();
    clustrix(dir, ['--help']);
    const code = join(dir, 'code');
    const file = join(code, binFiles(code)[0]!);
    chmodSync(file, 0o666);
    expect(clustrix(dir, ['--help']).report).toBe('miss, written');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('a symlink in place of the cache file is not followed', () => {
    const dir = freshDir();
    clustrix(dir, ['--help']);
    const code = join(dir, 'code');
    const name = binFiles(code)[0]!;
    renameSync(join(code, name), join(base, `elsewhere-${n}.bin`));
    symlinkSync(join(base, `elsewhere-${n}.bin`), join(code, name));
    expect(clustrix(dir, ['--help']).report).toBe('miss, written');
    expect(lstatSync(join(code, name)).isFile()).toBe(true); // replaced by a file of ours
  });

  it('a cache dir others may enter is not read from; it is made 0700', () => {
    const dir = freshDir();
    clustrix(dir, ['--help']);
    const code = join(dir, 'code');
    chmodSync(code, 0o755);
    expect(clustrix(dir, ['--help']).report).toBe('miss, written');
    expect(statSync(code).mode & 0o777).toBe(0o700);
    expect(clustrix(dir, ['--help']).report).toBe('hit');
  });

  it.skipIf(process.getuid?.() !== 0)('(as root only: needs a directory of another user) a cache dir of another user is neither read nor written', () => {
    const dir = freshDir();
    const code = join(dir, 'code');
    mkdirSync(code, { recursive: true, mode: 0o700 });
    chownSync(code, 65534, 65534);
    const r = clustrix(dir, ['--help']);
    expect(r.report).toMatch(/^miss, not written: .* is not a directory of ours$/);
    expect(r.stdout).toContain('Usage: clustrix');
    expect(readdirSync(code)).toEqual([]);
  });

  it('CLUSTRIX_CODE_CACHE=off reads and writes nothing', () => {
    const dir = freshDir();
    const r = clustrix(dir, ['--help'], 'off');
    expect(r.report).toBe('');
    expect(r.stdout).toContain('Usage: clustrix');
    expect(existsSync(dir)).toBe(false);
  });

  it('exit codes and errors are the same with the cache as without', () => {
    const dir = freshDir();
    const off = clustrix(dir, ['no-such-command'], 'off');
    const miss = clustrix(dir, ['no-such-command']);
    const hit = clustrix(dir, ['no-such-command']);
    expect(off.code).toBe(2);
    expect([miss.code, hit.code]).toEqual([2, 2]);
    expect(hit.report).toBe('hit');
  });

  it('keeps the four newest cache files and removes stale temporary files', () => {
    const dir = freshDir();
    const code = join(dir, 'code');
    mkdirSync(code, { recursive: true, mode: 0o700 });
    const old = Date.now() / 1000 - 3600;
    const names = ['a', 'b', 'c', 'd', 'e'].map((x, i) => {
      const f = `cli-${x.repeat(16)}-v8-0-x64.bin`;
      writeFileSync(join(code, f), 'x', { mode: 0o600 });
      utimesSync(join(code, f), old + i, old + i); // a oldest … e newest
      return f;
    });
    const staleTmp = `${names[0]}.123.tmp`;
    const youngTmp = `${names[1]}.456.tmp`;
    writeFileSync(join(code, staleTmp), 'x');
    utimesSync(join(code, staleTmp), old, old);
    writeFileSync(join(code, youngTmp), 'x');

    expect(clustrix(dir, ['--help']).report).toBe('miss, written');
    const left = readdirSync(code);
    const current = left.find((f) => f.endsWith('.bin') && !names.includes(f));
    expect(current).toBeDefined();
    expect(left.filter((f) => f.endsWith('.bin')).sort()).toEqual([current, names[2], names[3], names[4]].sort());
    expect(left).toContain(youngTmp);
    expect(left).not.toContain(staleTmp);
  });
});
