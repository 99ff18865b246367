/**
 * fs.glob against bash's own pathname expansion (globstar, nullglob).
 *
 * argv-safe: the pattern travels as $2 and is expanded by an unquoted `$2`
 * with IFS empty (no word splitting, only pathname expansion); printf '%s\0'
 * prints each result NUL-terminated. Patterns here all contain a glob
 * character (bash returns a magic-free word as is, existing or not).
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fsGlob } from '../../protocol/index.js';
import { createDirect } from '../support/direct.js';
import { makeTrickyTree, removeTree, tempDir } from '../support/trees.js';
import { entryBytes } from './helpers/fixtures.js';
import { byteSet, run, show, splitNul } from './helpers/gnu.js';

let base: string;
let direct: ReturnType<typeof createDirect>;

beforeAll(() => {
  base = tempDir('clx-parity-glob-');
  makeTrickyTree(join(base, 't'));
  const g = join(base, 'g');
  mkdirSync(join(g, 'a', 'b', 'c'), { recursive: true });
  mkdirSync(join(g, '.hid', 'x'), { recursive: true });
  mkdirSync(join(g, 't'));
  for (const f of ['a/f.txt', 'a/b/g.txt', 'a/b/c/h.txt', 'top.txt', '.dot.txt', '.hid/x/y.txt', 't/z.txt', 'a/.inner.txt']) writeFileSync(join(g, f), f);
  symlinkSync('a', join(g, 'alink'));
  symlinkSync('nowhere', join(g, 'broken'));
  symlinkSync('a/b/c/h.txt', join(g, 'flink'));
  direct = createDirect({ home: base });
});
afterAll(() => removeTree(base));

async function bash(cwd: string, pattern: string, dot = false): Promise<string[]> {
  const script = `shopt -s globstar nullglob${dot ? ' dotglob' : ''}; cd -- "$1" || exit 2; IFS=; set -- $2; [ $# -gt 0 ] && printf '%s\\0' "$@"; exit 0`;
  const r = await run('bash', ['-c', script, 'bash', cwd, pattern], { env: { ...process.env, LC_ALL: 'C' } });
  expect(r.code).toBe(0);
  return byteSet(splitNul(r.stdout));
}

async function expectSame(cwdRel: string, pattern: string, dot = false): Promise<number> {
  const cwd = join(base, cwdRel);
  const [want, got] = await Promise.all([bash(cwd, pattern, dot), direct.items(fsGlob, { pattern, cwd: cwdRel, dot })]);
  const set = byteSet(got.items.map(entryBytes));
  if (JSON.stringify(set) !== JSON.stringify(want)) expect(show(set)).toEqual(show(want));
  return set.length;
}

describe('fs.glob matches bash -O globstar -O nullglob', () => {
  it.each([
    '*',
    '.*',
    '*.txt',
    '*/',
    '**',
    '**/',
    '**/*.txt',
    'a/**',
    'a/**/',
    'alink/**',
    '**/h.txt',
    '**/b',
    '**/**',
    'a/*/c',
    '*/*.txt',
    '*/.',
    '.hid/**',
    'b*',
    '?lin?',
    '[ab]*',
    '[!a]*',
    '*/[bc]/*',
    'a/**/*.txt',
    '**/.inner.txt',
    '*/.*',
  ])('g: %s', async (pattern) => {
    await expectSame('g', pattern);
  });

  it.each(['*', '**', '*/*', '**/*.txt'])('g with dotglob: %s', async (pattern) => {
    await expectSame('g', pattern, true);
  });

  it.each([
    'files/*',
    'files/*[*',
    'files/*\\?',
    'files/\\[*',
    'files/*space*',
    'files/-*',
    'dirs/*/*',
    'invalid/*',
    'invalid/**',
    'links/*',
    '**/child.txt',
    'files/*[[:upper:]]*',
  ])('tricky names: %s', async (pattern) => {
    await expectSame('t', pattern);
  });

  it('absolute patterns give absolute paths', async () => {
    const pattern = join(base, 'g', '*', '*.txt');
    const want = await bash('/', pattern);
    const got = await direct.items(fsGlob, { pattern });
    expect(byteSet(got.items.map(entryBytes))).toEqual(want);
  });

  it('relative to home when no cwd is given', async () => {
    const got = await direct.items(fsGlob, { pattern: 'g/*.txt' });
    expect(got.items.map((e) => e.path)).toEqual(['g/top.txt']);
    expect(got.items[0]!.type).toBe('file');
  });

  it('limit truncates', async () => {
    const got = await direct.items(fsGlob, { pattern: '**', cwd: 'g', limit: 3 });
    expect(got.items).toHaveLength(3);
    expect(got.summary.truncated).toBe(true);
    expect(got.summary.matched).toBe(3);
  });

  it('a magic-free pattern yields the path only if it exists', async () => {
    expect((await direct.items(fsGlob, { pattern: 'top.txt', cwd: 'g' })).items.map((e) => e.path)).toEqual(['top.txt']);
    expect((await direct.items(fsGlob, { pattern: 'nope', cwd: 'g' })).items).toEqual([]);
    expect((await direct.items(fsGlob, { pattern: 'broken', cwd: 'g' })).items.map((e) => e.type)).toEqual(['symlink']);
  });
});
