/**
 * The one quoting function, proven against real shells: any string (no NUL)
 * quoted with shQuote comes back byte for byte from /bin/sh, and through the
 * two layers a remote command really goes through (login shell, then
 * /bin/sh) for bash and tcsh login shells.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loginShellCommand, shJoin, shQuote } from '../../client/ssh/quote.js';

const LOGIN_SHELLS = ['/bin/sh', '/bin/bash', '/usr/bin/tcsh', '/bin/tcsh', '/usr/bin/zsh', '/bin/dash'].filter((s) => existsSync(s));
const run = (shell: string, cmd: string) => execFileSync(shell, ['-c', cmd], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent' } });

/** Strings biased toward everything shells treat specially. */
const nasty = fc.string({
  unit: fc.oneof(
    fc.constantFrom(
      "'",
      '"',
      '\\',
      '$',
      '`',
      '!',
      '\n',
      '\t',
      ' ',
      '*',
      '?',
      '[',
      ']',
      '{',
      '}',
      '~',
      '#',
      ';',
      '&',
      '|',
      '<',
      '>',
      '(',
      ')',
      '=',
      '%',
      '^',
      '-',
      '\r',
    ),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
  ),
  maxLength: 40,
});

describe('shQuote', () => {
  it('leaves plain words alone and quotes everything else', () => {
    expect(shQuote('abc/DEF-1.2_x')).toBe('abc/DEF-1.2_x');
    expect(shQuote('')).toBe("''");
    expect(shQuote('a b')).toBe("'a b'");
    expect(shQuote("it's")).toBe("'it'\\''s'");
    expect(shQuote('a!b')).toBe("'a'\\!'b'");
    expect(shQuote('=cmd')).toBe("'=cmd'");
  });

  it('refuses NUL, which no argument can hold', () => {
    expect(() => shQuote('a\0b')).toThrow(/NUL/);
  });

  it('round-trips arbitrary strings through /bin/sh', () => {
    fc.assert(
      fc.property(nasty, (s) => {
        expect(run('/bin/sh', `printf %s ${shQuote(s)}`)).toBe(s);
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips an argv through sh -c "…" "$@"', () => {
    fc.assert(
      fc.property(fc.array(nasty, { maxLength: 4 }), (argv) => {
        const out = run('/bin/sh', `printf '%s\\0' ${shJoin(['x', ...argv])}`);
        expect(out.split('\0').slice(0, -1)).toEqual(['x', ...argv]);
      }),
      { numRuns: 150 },
    );
  });

  for (const login of LOGIN_SHELLS) {
    it(`survives the login shell layer (${login}) and then /bin/sh`, () => {
      fc.assert(
        fc.property(
          nasty.filter((s) => !/[\r\n]/.test(s)),
          (s) => {
            expect(run(login, loginShellCommand(`printf %s ${shQuote(s)}`))).toBe(s);
          },
        ),
        { numRuns: 120 },
      );
    });
  }
});

describe('loginShellCommand', () => {
  it('refuses multi-line scripts (tcsh cannot carry a newline inside quotes)', () => {
    expect(() => loginShellCommand('echo a\necho b')).toThrow(/one line/);
  });

  it('runs /bin/sh by absolute path whatever the login shell', () => {
    expect(loginShellCommand('echo hi')).toBe("exec /bin/sh -c 'echo hi'");
  });
});
