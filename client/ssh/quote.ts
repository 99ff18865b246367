/**
 * The ONE shell quoting function. Every value that goes into a remote command
 * line (paths, node binaries, module names, build hashes) passes through it;
 * nothing else builds shell text from data.
 *
 * Why it is a little more than `'…'`: sshd hands our command to the user's
 * LOGIN shell (`$SHELL -c "<command>"`), which may be tcsh. Inside single
 * quotes tcsh still performs history expansion on `!` and refuses a newline.
 * So `!` is emitted outside the quotes as `\!`, which every shell we know
 * (sh, dash, bash, zsh, tcsh, csh) reads as a literal `!`. The same function
 * then quotes the whole script for the login shell (see `loginShellCommand`),
 * so the result is correct under both layers.
 */

/** Characters that need no quoting in any shell we target. Kept conservative on purpose (no `=`: zsh expands a leading `=cmd`). */
const SAFE = /^[A-Za-z0-9_@%+:,./-]+$/;

/**
 * Quote `value` as ONE word for a POSIX shell (and tcsh, newline aside).
 * Throws on NUL: it cannot exist in an argument, so silently dropping it would
 * name a different file.
 */
export function shQuote(value: string): string {
  if (value.includes('\0')) throw new TypeError('shell arguments cannot contain NUL bytes');
  if (value !== '' && SAFE.test(value)) return value;
  let out = "'";
  for (const ch of value) {
    if (ch === "'") out += "'\\''";
    else if (ch === '!') out += "'\\!'";
    else out += ch;
  }
  return out + "'";
}

/** Quote and join an argv into one shell command line. */
export function shJoin(argv: readonly string[]): string {
  return argv.map(shQuote).join(' ');
}

/**
 * The exact string to pass to ssh2 `exec`: `exec /bin/sh -c '<script>'`.
 * Whatever the login shell (bash, tcsh, zsh…), `/bin/sh` (absolute) then runs
 * `script`, so scripts are written once, in POSIX sh. The login shell cannot
 * carry a newline inside quotes (tcsh), so scripts are one line: join
 * statements with `;`, and pass multi-line data on stdin.
 */
export function loginShellCommand(script: string): string {
  if (/[\r\n]/.test(script)) throw new TypeError('remote scripts must be one line (tcsh login shells reject newlines inside quotes); pass data on stdin');
  return `exec /bin/sh -c ${shQuote(script)}`;
}
