/**
 * Terminal prompts for SSH: key passphrases and keyboard-interactive (2FA)
 * questions, read from the TTY with echo off for secrets, written to stderr
 * so piped stdout stays clean. Without a TTY there is nobody to ask: no
 * callbacks are installed and encrypted keys / 2FA fail with a clear error.
 */
import { setSshDefaults } from '../ssh/defaults.js';
import { ttyProgress } from '../ssh/upload.js';
import type { KeyboardInteractiveRequest } from '../ssh/auth.js';

/** Read one line from the TTY; with `hidden`, nothing is echoed. Ctrl-C exits 130, Ctrl-D answers null. */
export function askTty(question: string, hidden: boolean): Promise<string | null> {
  const input = process.stdin;
  const out = process.stderr;
  return new Promise((resolve) => {
    out.write(question);
    const wasRaw = input.isRaw;
    input.setRawMode(true);
    input.resume();
    input.setEncoding('utf8');
    let answer = '';
    const done = (v: string | null) => {
      input.setRawMode(wasRaw);
      input.pause();
      input.off('data', onData);
      out.write('\n');
      resolve(v);
    };
    const onData = (s: string) => {
      for (const ch of s) {
        if (ch === '\r' || ch === '\n') return done(answer);
        if (ch === '\u0003') {
          input.setRawMode(wasRaw);
          out.write('\n');
          process.exit(130);
        }
        if (ch === '\u0004') return done(answer === '' ? null : answer);
        if (ch === '\u007f' || ch === '\b') {
          if (answer.length > 0) {
            answer = answer.slice(0, -1);
            if (!hidden) out.write('\b \b');
          }
          continue;
        }
        if (ch < ' ') continue;
        answer += ch;
        if (!hidden) out.write(ch);
      }
    };
    input.on('data', onData);
  });
}

async function keyboardInteractive(req: KeyboardInteractiveRequest): Promise<string[]> {
  if (req.name) process.stderr.write(`${req.name}\n`);
  if (req.instructions) process.stderr.write(`${req.instructions}\n`);
  const answers: string[] = [];
  for (const p of req.prompts) answers.push((await askTty(`(${req.host}) ${p.prompt}`, !p.echo)) ?? '');
  return answers;
}

/** Install TTY prompts and the upload progress bar as SSH defaults, when there is a terminal. */
export function installTtyPrompts(): void {
  const tty = Boolean(process.stdin.isTTY && process.stderr.isTTY);
  setSshDefaults({
    ...(tty
      ? {
          passphrase: (file: string, attempt: number) => askTty(`${attempt > 1 ? 'Wrong passphrase. ' : ''}Enter passphrase for key '${file}': `, true),
          keyboardInteractive,
          password: (who: string) => askTty(`${who}'s password: `, true),
        }
      : {}),
    ...(process.stderr.isTTY ? { onProgress: ttyProgress() } : {}),
  });
}
