/**
 * ls, stat, du, cat, find and count with several operands, files among them and quoted
 * patterns, against the local agent: what they print is what the GNU tools
 * print for the same operands (patterns expanded by bash), and one bad
 * operand is reported without stopping the others.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClusters } from '../../client/cli/session.js';
import { localEnv, type LocalEnv } from '../support/local-agent.js';

const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli.mjs');
let env: LocalEnv;
let dir: string;

function clustrix(...args: string[]) {
  return clustrixEnv({}, ...args);
}

function clustrixEnv(extra: NodeJS.ProcessEnv, ...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, '--root', env.root, '--run-dir', env.runDir, ...args], {
    encoding: 'utf8',
    cwd: dir,
    env: { ...process.env, ...extra },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A GNU tool through bash (so unquoted patterns expand), C collation like ours. */
function gnu(command: string) {
  const r = spawnSync('bash', ['-c', command], { encoding: 'utf8', cwd: dir, env: { ...process.env, LC_ALL: 'C' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  env = localEnv();
  dir = mkdtempSync('/tmp/clx-operands-');
  for (const d of ['d1', 'd2', 'd2/sub', 'empty']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'a.log'), 'alpha\n');
  writeFileSync(join(dir, 'b.log'), 'beta\n'.repeat(300));
  writeFileSync(join(dir, 'c.txt'), 'gamma\n');
  writeFileSync(join(dir, 'd1', 'x'), 'x'.repeat(5000));
  writeFileSync(join(dir, 'd2', 'y'), 'y');
  writeFileSync(join(dir, 'd2', 'sub', 'z'), 'z'.repeat(70000));
});
afterAll(async () => {
  await env.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('CLI operands (local)', () => {
  it('ls names a file operand instead of failing on it', () => {
    const r = clustrix('ls', join(dir, 'a.log'));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${join(dir, 'a.log')}\n`);
  });

  it('ls with files and directories prints what GNU ls prints: files first, then each directory under a header', () => {
    const ours = clustrix('ls', 'd2', 'c.txt', 'd1', 'a.log', 'empty');
    const theirs = gnu('ls d2 c.txt d1 a.log empty');
    expect(ours.code).toBe(0);
    expect(ours.stdout).toBe(theirs.stdout);
    expect(ours.stdout).toContain('d1:\nx\n');
  });

  it('ls -t, -S, -r, -d and -l (with its total line) print what GNU ls prints', () => {
    // Distinct times and sizes, so both orders are defined without ties.
    const names = ['a.log', 'b.log', 'c.txt'];
    names.forEach((n, i) => utimesSync(join(dir, n), 1_700_000_000 + [30, 10, 20][i]!, 1_700_000_000 + [30, 10, 20][i]!));
    // Directory operands are ordered too: d2 newer than d1, against their names.
    utimesSync(join(dir, 'd1'), 1_700_000_005, 1_700_000_005);
    utimesSync(join(dir, 'd2'), 1_700_000_040, 1_700_000_040);
    for (const flags of [['-t'], ['-S'], ['-r'], ['-t', '-r'], ['-S', '-r'], ['-d'], ['-l'], ['-l', '-S'], ['-l', '-d']]) {
      const ours = clustrix('ls', ...flags, 'a.log', 'b.log', 'c.txt', 'd1', 'd2');
      expect(ours.code).toBe(0);
      expect(ours.stdout).toBe(gnu(`ls ${flags.join(' ')} a.log b.log c.txt d1 d2`).stdout);
    }
    expect(clustrix('ls', '-l', 'd2').stdout).toBe(gnu('ls -l d2').stdout);
  });

  it('a quoted pattern is expanded the way bash expands it', () => {
    const ours = clustrix('ls', '*.log', 'd*');
    expect(ours.code).toBe(0);
    expect(ours.stdout).toBe(gnu('ls *.log d*').stdout);
    expect(clustrix('stat', '*.log').stdout.match(/ {2}File: /g)).toHaveLength(2);
  });

  it('a pattern that matches nothing is reported missing, and the other operands are still listed', () => {
    const ours = clustrix('ls', 'a.log', '*.nomatch', 'd1');
    expect(ours.code).toBe(3);
    expect(ours.stderr).toMatch(/\*\.nomatch: no such file or directory/);
    expect(ours.stdout).toBe(gnu('ls a.log d1').stdout);
  });

  it('ls --json: several operands give one line each, with entries or the error', () => {
    const r = clustrix('--json', 'ls', 'a.log', 'd1', 'missing');
    expect(r.code).toBe(3);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { path: string; entries?: { name: string; size: number }[]; error?: { code: string } });
    expect(lines.map((l) => l.path)).toEqual(['a.log', 'd1', 'missing']);
    expect(lines[0]!.entries).toEqual([expect.objectContaining({ name: 'a.log', size: 6 })]);
    expect(lines[1]!.entries!.map((e) => e.name)).toEqual(['x']);
    expect(lines[2]!.error).toMatchObject({ code: 'ENOENT' });
  });

  it('stat of several paths prints each in order; a missing one fails the command but not the others', () => {
    const r = clustrix('stat', 'c.txt', 'missing', 'a.log');
    expect(r.code).toBe(3);
    expect([...r.stdout.matchAll(/ {2}File: (.*)/g)].map((m) => m[1])).toEqual(['c.txt', 'a.log']);
    expect(r.stderr).toMatch(/missing: no such file or directory/);
  });

  it('du with several operands and -c prints what GNU du -s prints', () => {
    for (const flags of [['-b'], ['-B1']]) {
      const ours = clustrix('du', ...flags, '-c', 'd1', 'd2', 'a.log');
      const theirs = gnu(`du -s ${flags.join(' ')} -c d1 d2 a.log`);
      expect(ours.code).toBe(0);
      expect(ours.stdout).toBe(theirs.stdout);
    }
  });

  it('du -d prints a line per directory down to the depth, with the paths GNU du --max-depth prints', () => {
    const sorted = (t: string) => t.split('\n').filter(Boolean).sort();
    for (const target of ['.', 'd2', dir]) {
      const ours = clustrix('du', '-b', '-d', '1', target);
      expect(ours.code).toBe(0);
      expect(sorted(ours.stdout)).toEqual(sorted(gnu(`du -b --max-depth=1 ${target}`).stdout));
    }
    // The root's line comes last, after everything inside it.
    expect(clustrix('du', '-B1', '-d', '2', 'd2').stdout.trim().split('\n').at(-1)).toMatch(/\td2$/);
  });

  it('cat concatenates its operands and reports a missing one without stopping', () => {
    const r = clustrix('cat', 'a.log', 'missing', 'c.txt');
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('alpha\ngamma\n');
    expect(r.stderr).toMatch(/missing: no such file or directory/);
    expect(clustrix('cat', '*.txt').stdout).toBe('gamma\n');
    // A pattern's matches one after the other, whole: b.log is 1,500 bytes, streamed after a.log.
    expect(clustrix('cat', '*.log').stdout).toBe(`alpha\n${'beta\n'.repeat(300)}`);
  });

  it('relative local paths are relative to the working directory, and find prints them as GNU find does', () => {
    const sorted = (t: string) => t.split('\n').filter(Boolean).sort();
    const ours = clustrix('find', '.', '-type', 'f');
    expect(ours.code).toBe(0);
    expect(sorted(ours.stdout)).toEqual(sorted(gnu('find . -type f').stdout));
    expect(sorted(clustrix('find', 'd2').stdout)).toEqual(sorted(gnu('find d2').stdout));
    expect(clustrix('glob', '*.log').stdout).toBe('a.log\nb.log\n');
    expect(clustrix('count', 'd2').stdout).toMatch(/^4\td2\t/);
    expect(clustrix('cat', './c.txt').stdout).toBe('gamma\n');
  });

  it('find walks each operand in turn like GNU find: a missing one is reported and the others still print', () => {
    // Within one tree the order is the agent's; the operands come in the order given.
    const blocks = (t: string) => {
      const lines = t.split('\n').filter(Boolean);
      return ['d2', 'd1'].map((root) => lines.filter((l) => l === root || l.startsWith(`${root}/`)).sort());
    };
    const ours = clustrix('find', 'd2', 'missing', 'd1', '-type', 'f');
    const theirs = gnu('find d2 missing d1 -type f');
    expect(theirs.code).toBe(1);
    expect(ours.code).not.toBe(0);
    expect(blocks(ours.stdout)).toEqual(blocks(theirs.stdout));
    expect(ours.stdout.split('\n').filter(Boolean).length).toBe(3);
    // All of d2's paths come before d1's.
    expect(ours.stdout.lastIndexOf('d2/')).toBeLessThan(ours.stdout.indexOf('d1/'));
    expect(ours.stderr).toMatch(/missing: no such file or directory/);
    // A quoted pattern is expanded like the shell would, and --limit counts across operands.
    expect(clustrix('find', 'd*', '-type', 'f').stdout.split('\n').filter(Boolean).sort()).toEqual(['d1/x', 'd2/sub/z', 'd2/y']);
    const limited = clustrix('find', 'd1', 'd2', '--limit', '2');
    expect(limited.stdout.split('\n').filter(Boolean)).toHaveLength(2);
    expect(limited.stderr).toMatch(/stopped after 2 matches/);
  });

  it('count prints a line per operand, in order, and reports a missing one', () => {
    const r = clustrix('count', 'd2', 'missing', 'd1');
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/^4\td2\t\(files 2, dirs 2,[^\n]*\n2\td1\t\(files 1, dirs 1,/);
    expect(r.stderr).toMatch(/missing: no such file or directory/);
  });

  it('a bare word that is an ssh host and no local path gets a hint', () => {
    const config = join(dir, 'ssh_config');
    writeFileSync(config, 'Host mycluster\n  HostName 127.0.0.1\n');
    const r = clustrixEnv({ CLUSTRIX_SSH_CONFIG: config }, 'ls', 'mycluster', 'nothost');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/mycluster: no such file or directory \(mycluster is a host in your ssh config: write mycluster: for its home directory/);
    expect(r.stderr).toMatch(/nothost: no such file or directory\n/);
    rmSync(config);
  });

  it('one connection per host however many operands name it', async () => {
    const g = { root: env.root, runDir: env.runDir };
    const code = await withClusters(g, async (get) => {
      const [a, b] = await Promise.all([get('local'), get('local')]);
      expect(a).toBe(b);
      expect(await get('local')).toBe(a);
    });
    expect(code).toBe(0);
  });
});
