/**
 * match.ts against GNU find -name / -iname (glibc fnmatch), property-based.
 *
 * One directory holds a fixed, generated set of names; for each generated
 * pattern one `find DIR -mindepth 1 -maxdepth 1 -name PAT -printf '%f\0'`
 * gives the names glibc accepts, and compileFnmatch must accept exactly those.
 *
 * ASCII only: this glibc's C.UTF-8 fnmatch lets `?` match one byte or one
 * whole character of a multibyte name (`?` and `??` both match "é"), so
 * there is no single answer to compare with for non-ASCII `?`; match.ts
 * matches characters, and the fixed cases below cover non-ASCII literals.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileFnmatch } from '../../agent/fs/match.js';
import { removeTree, tempDir } from '../support/trees.js';
import { run, splitNul } from './helpers/gnu.js';

const NAME_CHARS = ['a', 'b', 'c', 'A', 'B', 'x', '.', '-', '[', ']', '!', '^', '*', '?', '\\', ' ', '1', ':'];
const SEED = 20_241_123;

let dir: string;
let names: string[];

beforeAll(() => {
  dir = tempDir('clx-parity-fnmatch-');
  const gen = fc.array(fc.constantFrom(...NAME_CHARS), { minLength: 1, maxLength: 6 }).map((cs) => cs.join(''));
  const sample = fc.sample(gen, { numRuns: 600, seed: SEED });
  names = [...new Set([...sample, 'a', 'b', 'ab', 'abc', 'A', '.a', '.', 'x[y', 'x]y', '[', ']', '\\', '*', '?', 'a-b', '^a', '!a'])].filter(
    (n) => n !== '.' && n !== '..',
  );
  for (const n of names) writeFileSync(join(dir, n), '');
});
afterAll(() => removeTree(dir));

async function gnuMatches(pattern: string, iname = false): Promise<string[]> {
  const r = await run('find', [dir, '-mindepth', '1', '-maxdepth', '1', iname ? '-iname' : '-name', pattern, '-printf', '%f\\0']);
  return splitNul(r.stdout)
    .map((b) => b.toString('utf8'))
    .sort();
}

function ours(pattern: string, iname = false): string[] {
  const m = compileFnmatch(pattern, { caseFold: iname });
  return names.filter((n) => m(n)).sort();
}

/** Patterns built from glob pieces, including malformed brackets and stray escapes. */
const piece = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NAME_CHARS.filter((c) => c !== '*' && c !== '?' && c !== '[' && c !== '\\')) },
  { weight: 2, arbitrary: fc.constantFrom('*', '?') },
  { weight: 1, arbitrary: fc.constantFrom('\\*', '\\?', '\\[', '\\\\', '\\a', '\\') },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.constantFrom('', '!', '^'),
        fc.array(
          fc.constantFrom(
            'a',
            'b',
            'A',
            'x',
            ']',
            '-',
            '.',
            '[',
            '!',
            '^',
            '\\]',
            'a-c',
            'A-Z',
            ']-a',
            '[:alpha:]',
            '[:upper:]',
            '[:digit:]',
            '[:punct:]',
            '[:space:]',
            '[=a=]',
            '[.-.]',
            '[:bogus:]',
          ),
          { maxLength: 4 },
        ),
        fc.boolean(),
      )
      .map(([neg, items, closed]) => `[${neg}${items.join('')}${closed ? ']' : ''}`),
  },
);
const pattern = fc.array(piece, { minLength: 1, maxLength: 5 }).map((ps) => ps.join(''));

describe('compileFnmatch matches glibc fnmatch as used by GNU find', () => {
  it('-name, generated patterns', async () => {
    await fc.assert(
      fc.asyncProperty(pattern, async (pat) => {
        expect({ pat, m: ours(pat) }).toEqual({ pat, m: await gnuMatches(pat) });
      }),
      { numRuns: 250, seed: SEED },
    );
  }, 120_000);

  it('-iname, generated patterns', async () => {
    await fc.assert(
      fc.asyncProperty(pattern, async (pat) => {
        expect({ pat, m: ours(pat, true) }).toEqual({ pat, m: await gnuMatches(pat, true) });
      }),
      { numRuns: 120, seed: SEED + 1 },
    );
  }, 120_000);

  it.each([
    '[]]',
    '[!]]',
    '[]',
    '[!]',
    '[',
    'x\\',
    '\\\\',
    '[\\]]',
    '[a-]',
    '[]-a]',
    '[z-a]',
    '[^a]',
    '*',
    '?',
    '[[=a=]]',
    '[[.a.]]',
    'a[',
    '[ab',
    '\\[ab]',
    '[[]',
    '.*',
    '[.]*',
    '[[:foo:]]',
    '*[*',
    '[[:alpha:]-z]',
    '[!a-z]',
  ])('edge case %s', async (pat) => {
    expect(ours(pat)).toEqual(await gnuMatches(pat));
  });

  it('non-ASCII literals and classes', async () => {
    const extra = ['été', 'Été', 'naïve', '日本', 'x日y'];
    for (const n of extra) writeFileSync(join(dir, n), '');
    names.push(...extra);
    for (const pat of ['*é*', 'Été', '[éÉ]t*', '*本', 'x*y', 'na[ïi]ve', '[[:alpha:]]*']) expect(ours(pat)).toEqual(await gnuMatches(pat));
    for (const pat of ['été', 'ÉTÉ', '*É']) expect(ours(pat, true)).toEqual(await gnuMatches(pat, true));
  });

  it('is linear on patterns that make backtracking regexes explode', () => {
    const m = compileFnmatch(`${'*a'.repeat(30)}b`);
    expect(m('a'.repeat(255))).toBe(false);
  });
});
