/**
 * fnmatch(3) as GNU find -name/-path uses it (flags 0: `*` and `?` match `/`
 * and a leading dot; backslash escapes), in a UTF-8 locale: `?` and bracket
 * expressions match one character, not one byte.
 *
 * Why not picomatch: it is a shell-glob library, not fnmatch. It gives
 * meaning to `{a,b}`, `!(x)`, `@(x)`, `+(x)`, a leading `!` (negation) and
 * `**`, treats `/` and leading dots specially and differs on unclosed
 * brackets and backslashes — each a wrong answer for a file literally named
 * `a{b,c}` or `!x`. test/parity/fnmatch.test.ts checks this matcher against
 * GNU find.
 *
 * The pattern compiles to single-character tokens and `*`, matched with the
 * classic one-backtrack-point algorithm: O(name × pattern) worst case, never
 * exponential (a regex translation backtracks catastrophically on `*a*a*a*b`,
 * which would stall the one agent process every client shares). Common shapes
 * (`*.txt`, `core.*`, `*tmp*`, literals) take string fast paths.
 */

const LIT = 0;
const ANY = 1;
const STAR = 2;
const SET = 3;

type Token = { k: typeof LIT; c: number } | { k: typeof ANY } | { k: typeof STAR } | { k: typeof SET; neg: boolean; test: (cp: number) => boolean };

export type Matcher = (s: string) => boolean;

export interface MatchOptions {
  /** Case-insensitive, like FNM_CASEFOLD (`find -iname`). */
  caseFold?: boolean;
}

const CLASSES: Record<string, (cp: number) => boolean> = {
  alpha: (c) => /\p{Alphabetic}/u.test(String.fromCodePoint(c)),
  digit: (c) => c >= 0x30 && c <= 0x39,
  alnum: (c) => (c >= 0x30 && c <= 0x39) || /\p{Alphabetic}/u.test(String.fromCodePoint(c)),
  upper: (c) => /\p{Uppercase}/u.test(String.fromCodePoint(c)),
  lower: (c) => /\p{Lowercase}/u.test(String.fromCodePoint(c)),
  space: (c) => (c >= 0x09 && c <= 0x0d) || c === 0x20 || (c > 0x7f && /\s/u.test(String.fromCodePoint(c))),
  blank: (c) => c === 0x20 || c === 0x09,
  punct: (c) => (c > 0x20 && c < 0x7f && !/[0-9A-Za-z]/.test(String.fromCharCode(c))) || (c > 0x7f && /[\p{P}\p{S}]/u.test(String.fromCodePoint(c))),
  print: (c) => c >= 0x20 && c !== 0x7f && !/\p{C}/u.test(String.fromCodePoint(c)),
  graph: (c) => c > 0x20 && c !== 0x7f && !/[\p{C}\p{Z}]/u.test(String.fromCodePoint(c)),
  cntrl: (c) => /\p{Cc}/u.test(String.fromCodePoint(c)),
  xdigit: (c) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66),
};

function fold(cp: number): number {
  if (cp < 0x80) return cp >= 0x41 && cp <= 0x5a ? cp + 32 : cp;
  const lower = String.fromCodePoint(cp).toLowerCase();
  const l = lower.codePointAt(0)!;
  return lower.length === (l > 0xffff ? 2 : 1) ? l : cp;
}

function foldString(s: string): string {
  // ASCII: toLowerCase keeps the length and matches tolower(3) exactly.

  if (/^[\x00-\x7f]*$/.test(s)) return s.toLowerCase();
  let out = '';
  for (const ch of s) out += String.fromCodePoint(fold(ch.codePointAt(0)!));
  return out;
}

/** Parse the pattern into tokens, or null when it can never match (trailing backslash, unknown class). */
function tokenize(pattern: string, caseFold: boolean): Token[] | null {
  const cps = Array.from(pattern, (ch) => ch.codePointAt(0)!);
  const f = caseFold ? fold : (c: number) => c;
  const out: Token[] = [];
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i]!;
    if (c === 0x2a /* * */) {
      if (out[out.length - 1]?.k !== STAR) out.push({ k: STAR });
    } else if (c === 0x3f /* ? */) out.push({ k: ANY });
    else if (c === 0x5c /* \ */) {
      if (i + 1 >= cps.length) return null; // "Trailing \ loses" (glibc)
      out.push({ k: LIT, c: f(cps[++i]!) });
    } else if (c === 0x5b /* [ */) {
      const set = parseBracket(cps, i + 1, f);
      if (set === 'invalid') return null;
      if (set === null)
        out.push({ k: LIT, c }); // unclosed: a literal '['
      else {
        out.push(set.token);
        i = set.end;
      }
    } else out.push({ k: LIT, c: f(c) });
  }
  return out;
}

type Item = { lo: number; hi: number } | { cls: (cp: number) => boolean };

/**
 * A bracket expression starting after '['. Returns the token and the index of
 * its closing ']', null when it is not closed ('[' is then literal), or
 * 'invalid' when it names an unknown class (glibc: the pattern never matches).
 */
function parseBracket(cps: number[], start: number, f: (c: number) => number): { token: Token; end: number } | null | 'invalid' {
  let j = start;
  let neg = false;
  if (cps[j] === 0x21 /* ! */ || cps[j] === 0x5e /* ^ */) {
    neg = true;
    j++;
  }
  const items: Item[] = [];
  let first = true;
  for (;;) {
    if (j >= cps.length) return null;
    const c = cps[j]!;
    if (c === 0x5d /* ] */ && !first) break;
    first = false;
    // One element: [:class:], [=c=], [.c.], \c or c.
    let lo: number;
    if (c === 0x5b && (cps[j + 1] === 0x3a || cps[j + 1] === 0x3d || cps[j + 1] === 0x2e)) {
      const delim = cps[j + 1]!;
      const close = findClose(cps, j + 2, delim);
      if (close < 0) {
        lo = c; // no terminator: the '[' is an ordinary character
        j++;
      } else {
        const inner = String.fromCodePoint(...cps.slice(j + 2, close));
        j = close + 2;
        if (delim === 0x3a) {
          const cls = CLASSES[inner];
          if (!cls) return 'invalid';
          items.push({ cls });
          continue;
        }
        const chars = Array.from(inner);
        if (chars.length !== 1) return 'invalid';
        lo = chars[0]!.codePointAt(0)!;
      }
    } else if (c === 0x5c /* \ */) {
      if (j + 1 >= cps.length) return null;
      lo = cps[j + 1]!;
      j += 2;
    } else {
      lo = c;
      j++;
    }
    // A range lo-hi, unless '-' is the last character before ']'.
    if (cps[j] === 0x2d && j + 1 < cps.length && cps[j + 1] !== 0x5d) {
      let hi = cps[j + 1]!;
      j += 2;
      if (hi === 0x5c) {
        if (j >= cps.length) return null;
        hi = cps[j++]!;
      } else if (hi === 0x5b && (cps[j] === 0x2e || cps[j] === 0x3d)) {
        const close = findClose(cps, j + 1, cps[j]!);
        if (close >= 0) {
          const chars = Array.from(String.fromCodePoint(...cps.slice(j + 1, close)));
          if (chars.length !== 1) return 'invalid';
          hi = chars[0]!.codePointAt(0)!;
          j = close + 2;
        }
      }
      items.push({ lo: f(lo), hi: f(hi) });
    } else items.push({ lo: f(lo), hi: f(lo) });
  }
  const test = (cp: number): boolean => {
    for (const it of items) {
      if ('cls' in it) {
        if (it.cls(cp)) return true;
      } else if (cp >= it.lo && cp <= it.hi) return true;
    }
    return false;
  };
  return { token: { k: SET, neg, test }, end: j };
}

/** Index of `delim` followed by ']' at or after `from`, or -1. */
function findClose(cps: number[], from: number, delim: number): number {
  for (let k = from; k + 1 < cps.length; k++) if (cps[k] === delim && cps[k + 1] === 0x5d) return k;
  return -1;
}

function tokenMatches(t: Token, cp: number, original: number): boolean {
  switch (t.k) {
    case LIT:
      return t.c === cp;
    case ANY:
      return true;
    case SET:
      return (t.test(cp) || (cp !== original && t.test(original))) !== t.neg;
    default:
      return false;
  }
}

/** The general matcher: greedy `*` with one backtrack point (correct because every other token is one character). */
function matchTokens(tokens: Token[], s: string, orig: string): boolean {
  let ti = 0;
  let si = 0;
  let starTi = -1;
  let starSi = 0;
  const n = tokens.length;
  while (si < s.length) {
    const t = tokens[ti];
    if (t !== undefined) {
      if (t.k === STAR) {
        starTi = ti++;
        starSi = si;
        continue;
      }
      const cp = s.codePointAt(si)!;
      if (tokenMatches(t, cp, orig === s ? cp : orig.codePointAt(si)!)) {
        ti++;
        si += cp > 0xffff ? 2 : 1;
        continue;
      }
    }
    if (starTi < 0) return false;
    ti = starTi + 1;
    starSi += s.codePointAt(starSi)! > 0xffff ? 2 : 1;
    si = starSi;
  }
  while (ti < n && tokens[ti]!.k === STAR) ti++;
  return ti === n;
}

function literalOf(tokens: Token[]): string | null {
  let s = '';
  for (const t of tokens) {
    if (t.k !== LIT) return null;
    s += String.fromCodePoint(t.c);
  }
  return s;
}

/** Compile an fnmatch pattern to a predicate. */
export function compileFnmatch(pattern: string, opts: MatchOptions = {}): Matcher {
  const caseFold = opts.caseFold ?? false;
  const tokens = tokenize(pattern, caseFold);
  if (tokens === null) return () => false;
  const prep = caseFold ? foldString : (s: string) => s;
  // Fast paths for the shapes people type (`name`, `*.ext`, `prefix*`, `*part*`).
  const n = tokens.length;
  const starAt0 = tokens[0]?.k === STAR;
  const starAtEnd = n > 0 && tokens[n - 1]!.k === STAR;
  const inner = literalOf(tokens.slice(starAt0 ? 1 : 0, starAtEnd && n > 1 ? n - 1 : n));
  if (inner !== null) {
    if (n === 1 && starAt0) return () => true;
    if (starAt0 && starAtEnd) return (s) => prep(s).includes(inner);
    if (starAt0) return (s) => prep(s).endsWith(inner);
    if (starAtEnd) return (s) => prep(s).startsWith(inner);
    return (s) => prep(s) === inner;
  }
  if (caseFold)
    return (s) => {
      const folded = foldString(s);
      return matchTokens(tokens, folded, folded.length === s.length ? s : folded);
    };
  return (s) => matchTokens(tokens, s, s);
}

/** True when the pattern has any unescaped glob character (so it needs a directory listing to expand). */
export function hasMagic(pattern: string): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') i++;
    else if (c === '*' || c === '?' || c === '[') return true;
  }
  return false;
}

/** The literal a magic-free pattern stands for (backslashes removed). */
export function unescapeGlob(pattern: string): string {
  return pattern.replace(/\\(.)/gsu, '$1');
}

/** True when the pattern's first character is a literal '.' (so it may match dotfiles in a shell glob). */
export function startsWithLiteralDot(pattern: string): boolean {
  return pattern.startsWith('.') || pattern.startsWith('\\.');
}
