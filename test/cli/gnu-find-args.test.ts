/**
 * `clustrix find` with GNU find's spelling: the argv rewrite (gnu-find-args.ts)
 * token by token, its refusals and their hints, and the built CLI printing the
 * same paths as GNU find for `-name … -type f` against a local agent.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../client/cli/exit.js';
import { gnuFindArgs } from '../../client/cli/gnu-find-args.js';
import { runCli, type CliResult } from '../support/cli.js';
import { localEnv, type LocalEnv } from '../support/local-agent.js';

const HEAD = ['node', 'cli.mjs'];
/** Rewrite `find …` and return only what follows `find`. */
const find = (...args: string[]) => gnuFindArgs([...HEAD, 'find', ...args]).slice(3);

function refusal(...args: string[]): string {
  try {
    find('/d', ...args);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`no UsageError for ${args.join(' ')}`);
}

describe('gnuFindArgs: -P and -H', () => {
  it('drops -P (never follow: the default) and refuses -H with a hint', () => {
    expect(find('-P', '/d', '-name', 'x')).toEqual(['/d', '--name', 'x']);
    expect(refusal('-H')).toMatch(/-H is not supported; symlinks are followed everywhere \(-L\) or nowhere/);
  });
});

describe('gnuFindArgs: GNU spellings that mean the same', () => {
  it.each([
    [
      ['-name', '*.gz'],
      ['--name', '*.gz'],
    ],
    [
      ['-iname', '*.GZ'],
      ['--iname', '*.GZ'],
    ],
    [
      ['-path', '*/x/*'],
      ['--path', '*/x/*'],
    ],
    [
      ['-wholename', '*/x/*'],
      ['--path', '*/x/*'],
    ],
    [
      ['-type', 'f'],
      ['--type', 'f'],
    ],
    [
      ['-type', 'f,d'],
      ['--type', 'f,d'],
    ],
    [
      ['-maxdepth', '2'],
      ['--maxdepth', '2'],
    ],
    [
      ['-mindepth', '1'],
      ['--mindepth', '1'],
    ],
    [['-xdev'], ['--xdev']],
    [['-mount'], ['--xdev']],
    [['-print0'], ['--print0']],
    [['-follow'], ['--follow']],
    [['-L'], ['-L']],
    [['-0'], ['-0']],
    [['-print'], []],
  ])('%j → %j', (gnu, ours) => {
    expect(find('/d', ...gnu)).toEqual(['/d', ...ours]);
  });

  it('rewrites a whole GNU command line and keeps the order', () => {
    expect(find('host:/dir', '-maxdepth', '3', '-name', '*.gz', '-type', 'f', '-print0')).toEqual([
      'host:/dir',
      '--maxdepth',
      '3',
      '--name',
      '*.gz',
      '--type',
      'f',
      '--print0',
    ]);
  });

  it('copies the value after a value-taking option verbatim, even when it starts with -', () => {
    expect(find('/d', '--name', '-name')).toEqual(['/d', '--name', '-name']);
    expect(find('/d', '-name', '-iname')).toEqual(['/d', '--name', '-iname']);
    expect(find('/d', '--prune', '-size')).toEqual(['/d', '--prune', '-size']);
    expect(find('/d', '-path', '-o')).toEqual(['/d', '--path', '-o']);
    expect(find('/d', '--newer', '-mtime', '--older', '(')).toEqual(['/d', '--newer', '-mtime', '--older', '(']);
  });

  it('leaves --opt=value, unknown options and a trailing value-taking option alone', () => {
    expect(find('/d', '--name=-size', '-type', 'd')).toEqual(['/d', '--name=-size', '--type', 'd']);
    expect(find('/d', '--bogus', '-bogus')).toEqual(['/d', '--bogus', '-bogus']);
    expect(find('/d', '-name')).toEqual(['/d', '--name']);
    expect(find('constructor', 'toString', '__proto__')).toEqual(['constructor', 'toString', '__proto__']);
  });

  it('stops at --', () => {
    expect(find('-name', 'a', '--', '-name', '-size')).toEqual(['--name', 'a', '--', '-name', '-size']);
  });

  it('finds the subcommand after the global options', () => {
    for (const globals of [['--json'], ['--root', '/x'], ['--root=/x'], ['--run-dir', 'd'], ['--run-dir=d'], ['--json', '--root', '/x', '--run-dir', 'd']]) {
      const argv = [...HEAD, ...globals, 'find', '/d', '-name', '*.c'];
      expect(gnuFindArgs(argv)).toEqual([...HEAD, ...globals, 'find', '/d', '--name', '*.c']);
    }
    // A global option's value is not the subcommand, even when it is "find".
    expect(gnuFindArgs([...HEAD, '--root', 'find', 'ls', '-name'])).toEqual([...HEAD, '--root', 'find', 'ls', '-name']);
  });

  it('leaves other commands to commander', () => {
    for (const argv of [
      [...HEAD, 'ls', '-name'],
      [...HEAD, '--json', 'count', '/d', '-size', '+1k'],
      [...HEAD, 'help', 'find', '-name'],
      [...HEAD],
      [...HEAD, '--root', '/x'],
    ]) {
      expect(gnuFindArgs(argv)).toEqual(argv);
    }
  });

  it('does not change its input', () => {
    const argv = [...HEAD, 'find', '/d', '-name', 'x', '-print'];
    const copy = [...argv];
    gnuFindArgs(argv);
    expect(argv).toEqual(copy);
  });

  it('is the identity on double-dash options and plain words', () => {
    // Plain words: not options, and not GNU's operators ! ( ) (refused even though they have no dash).
    const word = fc.stringMatching(/^[^-]/).filter((w) => !['!', '(', ')'].includes(w));
    const dashdash = fc.oneof(
      fc.constantFrom('--name', '--iname', '--path', '--type', '--min-size', '--newer', '--prune', '--limit', '--json', '--root', '--xdev', '--follow', '--'),
      fc.string().map((s) => `--${s}`),
    );
    const globals = fc.array(
      fc.oneof(
        fc.constant(['--json']),
        word.map((w) => ['--root', w]),
        word.map((w) => [`--run-dir=${w}`]),
      ),
      { maxLength: 3 },
    );
    fc.assert(
      fc.property(globals, fc.constantFrom('find', 'ls', 'du'), fc.array(fc.oneof(word, dashdash), { maxLength: 12 }), (g, cmd, rest) => {
        const argv = [...HEAD, ...g.flat(), cmd, ...rest];
        expect(gnuFindArgs(argv)).toEqual(argv);
      }),
    );
  });
});

describe('gnuFindArgs: GNU predicates clustrix does not support', () => {
  const REFUSED = [
    '-size',
    '-mtime',
    '-mmin',
    '-newer',
    '-atime',
    '-amin',
    '-ctime',
    '-cmin',
    '-user',
    '-group',
    '-perm',
    '-exec',
    '-execdir',
    '-ok',
    '-delete',
    '-prune',
    '-o',
    '-or',
    '-a',
    '-and',
    '-not',
    '!',
    '(',
    ')',
    '-printf',
    '-fprint',
    '-ls',
    '-regex',
    '-iregex',
    '-empty',
    '-links',
    '-inum',
    '-samefile',
    '-quit',
    '-newermt',
  ];

  it.each(REFUSED)('%s throws a UsageError that names it', (pred) => {
    expect(refusal('-name', 'x', pred, 'arg')).toContain(pred);
  });

  it('points at the clustrix equivalent', () => {
    expect(refusal('-size', '+1k')).toMatch(/--min-size.*--max-size/);
    for (const t of ['-mtime', '-mmin', '-newer']) expect(refusal(t, '-2')).toMatch(/--newer.*--older.*2h.*ISO date/);
    expect(refusal('-prune')).toContain('--prune <glob>');
    for (const t of ['-exec', '-execdir', '-delete', '-printf']) expect(refusal(t)).toContain('xargs -0');
    for (const t of ['-o', '!', '(']) expect(refusal(t)).toMatch(/ANDed.*--name given several times means any of/);
    expect(refusal('-empty')).toContain('--max-size 0');
    expect(refusal('-quit')).toContain('--limit 1');
  });

  it('refuses a repeated GNU test it would otherwise widen or drop', () => {
    expect(refusal('-name', 'a*', '-name', '*.c')).toMatch(/-name given more than once.*any of/);
    expect(refusal('-iname', 'a*', '--iname', '*.c')).toMatch(/-iname given more than once/);
    expect(refusal('-wholename', '*/a/*', '-path', '*/b/*')).toMatch(/-wholename given more than once.*only the last --path/);
    expect(refusal('-type', 'f', '-type', 'd')).toMatch(/-type given more than once.*-type f,d/);
    // Double-dash repeats keep clustrix's meaning (any of), and a single -name beside --iname is an AND in both.
    expect(find('/d', '--name', 'a', '--name', 'b', '-iname', 'c')).toEqual(['/d', '--name', 'a', '--name', 'b', '--iname', 'c']);
    expect(find('/d', '-maxdepth', '1', '-maxdepth', '2')).toEqual(['/d', '--maxdepth', '1', '--maxdepth', '2']);
  });
});

describe('clustrix find with GNU spelling (built CLI, local agent)', () => {
  const execP = promisify(execFile);
  let env: LocalEnv;
  let dir: string;

  const cli = (args: string[]): Promise<CliResult> => runCli(env, args);

  beforeAll(() => {
    env = localEnv();
    dir = mkdtempSync('/tmp/clx-gnufind-');
    mkdirSync(join(dir, 'sub', 'deep.txt'), { recursive: true });
    writeFileSync(join(dir, 'a.txt'), 'alpha\n');
    writeFileSync(join(dir, 'b.log'), 'beta\n');
    writeFileSync(join(dir, 'sub', 'c.txt'), 'gamma\n'.repeat(500));
    writeFileSync(join(dir, 'sub', 'deep.txt', 'd.txt'), '');
    writeFileSync(join(dir, 'with space.txt'), '');
  });
  afterAll(async () => {
    await env.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('-name … -type f prints what GNU find prints', async () => {
    const ours = await cli(['find', dir, '-name', '*.txt', '-type', 'f']);
    const gnu = await execP('find', [dir, '-name', '*.txt', '-type', 'f']);
    expect(ours.stderr).toBe('');
    expect(ours.code).toBe(0);
    const lines = (s: string) => s.split('\n').filter(Boolean).sort();
    expect(lines(gnu.stdout)).toHaveLength(4);
    expect(lines(ours.stdout)).toEqual(lines(gnu.stdout));
  });

  it('-size exits 2 and says to use --min-size', async () => {
    const r = await cli(['find', dir, '-size', '+1k']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^clustrix: find: GNU find's -size is not supported;.*--min-size/);
  });
});
