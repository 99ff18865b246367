import { describe, expect, it } from 'vitest';
import { compileFnmatch, hasMagic, unescapeGlob } from '../../../agent/fs/match.js';

const m = (pat: string, s: string, caseFold = false): boolean => compileFnmatch(pat, { caseFold })(s);

describe('compileFnmatch (find -name semantics)', () => {
  it('* and ? match any characters, leading dots and slashes included', () => {
    expect(m('*.txt', 'a.txt')).toBe(true);
    expect(m('*.txt', '.txt')).toBe(true);
    expect(m('*', '.hidden')).toBe(true);
    expect(m('a*b', 'a/x/b')).toBe(true);
    expect(m('?', '😀')).toBe(true); // one character, not one UTF-16 unit
    expect(m('??', '😀')).toBe(false);
    expect(m('a?c', 'abc')).toBe(true);
    expect(m('a?c', 'ac')).toBe(false);
  });

  it('bracket expressions: ranges, negation with ! or ^, ] first, classes', () => {
    expect(m('[a-c]', 'b')).toBe(true);
    expect(m('[!a-c]', 'b')).toBe(false);
    expect(m('[^a-c]', 'd')).toBe(true);
    expect(m('[]]', ']')).toBe(true);
    expect(m('[!]]', 'x')).toBe(true);
    expect(m('[[:digit:]]x', '7x')).toBe(true);
    expect(m('[[:bogus:]]', 'a')).toBe(false);
    expect(m('[', '[')).toBe(true); // unclosed: literal
    expect(m('[z-a]', 'm')).toBe(false);
  });

  it('backslash escapes; a trailing backslash never matches', () => {
    expect(m('\\*', '*')).toBe(true);
    expect(m('\\*', 'x')).toBe(false);
    expect(m('a\\', 'a\\')).toBe(false);
    expect(m('[\\]]', ']')).toBe(true);
  });

  it('no braces, extglobs or negation: those characters are literal', () => {
    expect(m('{a,b}', '{a,b}')).toBe(true);
    expect(m('{a,b}', 'a')).toBe(false);
    expect(m('!(x)', '!(x)')).toBe(true);
    expect(m('@(x)', 'x')).toBe(false);
  });

  it('caseFold folds both sides, ranges included', () => {
    expect(m('*.TXT', 'a.txt', true)).toBe(true);
    expect(m('[A-C]x', 'bX', true)).toBe(true);
    expect(m('ÉTÉ', 'été', true)).toBe(true);
  });

  it('matches names with newlines and invalid-UTF-8 replacement characters', () => {
    expect(m('a*b', 'a\nb')).toBe(true);
    expect(m('fo?o', 'fo\uFFFDo')).toBe(true);
  });
});

describe('glob helpers', () => {
  it('hasMagic ignores escaped characters; unescapeGlob drops the escapes', () => {
    expect(hasMagic('a*')).toBe(true);
    expect(hasMagic('a\\*')).toBe(false);
    expect(hasMagic('[x')).toBe(true);
    expect(unescapeGlob('a\\*b\\\\')).toBe('a*b\\');
  });
});
