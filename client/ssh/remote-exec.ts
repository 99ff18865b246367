/**
 * Run one POSIX sh script on the remote host through an ssh2 exec channel.
 * The script is built by the caller from constants and `shQuote`d values and
 * reaches `/bin/sh` through `loginShellCommand`, whatever the login shell.
 * Bulk or multi-line data goes on stdin, never into the command line.
 */
import type { Client, ClientChannel } from 'ssh2';
import { ConnectionError } from '../errors.js';
import { loginShellCommand } from './quote.js';

export interface ExecResult {
  /** Exit code, or null if the remote process died by a signal. */
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Written to the remote stdin, which is then closed. */
  stdin?: string | Buffer;
  /** Kill the channel and reject after this many ms. Default 60 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Most stdout/stderr bytes kept each. Default 4 MiB. */
  maxBytes?: number;
  /** Called once the server has accepted the command (channel open, exec request answered). */
  onOpen?: () => void;
}

/** Open an exec channel running `script` under /bin/sh; the caller owns the stream. */
export function execChannel(ssh: Client, script: string): Promise<ClientChannel> {
  const command = loginShellCommand(script);
  return new Promise((resolve, reject) => {
    ssh.exec(command, (err, ch) => {
      if (err) reject(new ConnectionError('tunnel', `the server refused to run a command: ${err.message}`, { cause: err }));
      else resolve(ch);
    });
  });
}

/** Run `script` to completion and collect its output. Never rejects on a non-zero exit. */
export async function execScript(ssh: Client, script: string, opts: ExecOptions = {}): Promise<ExecResult> {
  const ch = await execChannel(ssh, script);
  opts.onOpen?.();
  const max = opts.maxBytes ?? 4 << 20;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let code: number | null = null;
    let sig: string | null = null;
    let done = false;
    const finish = (e: Error | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (e) {
        ch.destroy();
        reject(e);
      } else resolve({ code, signal: sig, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    };
    const onAbort = () => finish(new ConnectionError('closed', 'remote command aborted', { cause: opts.signal?.reason }));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => finish(new ConnectionError('timeout', `remote command did not finish within ${timeoutMs} ms`)), timeoutMs);
    ch.on('data', (d: Buffer) => {
      if (outBytes < max) out.push(d);
      outBytes += d.length;
    });
    ch.stderr.on('data', (d: Buffer) => {
      if (errBytes < max) err.push(d);
      errBytes += d.length;
    });
    ch.on('exit', (c: number | null, s?: string) => {
      code = typeof c === 'number' ? c : null;
      sig = s ?? null;
    });
    // ssh2 repeats the exit status on 'close'; use it if 'exit' was not seen.
    ch.on('close', (c?: number | null, s?: string) => {
      if (code === null && sig === null) {
        if (typeof c === 'number') code = c;
        if (typeof s === 'string') sig = s;
      }
      finish(null);
    });
    ch.on('error', (e: Error) => finish(new ConnectionError('closed', `remote command channel failed: ${e.message}`, { cause: e })));
    if (opts.stdin !== undefined) ch.end(opts.stdin);
    else ch.end();
  });
}

/** Last few lines of stderr/stdout for error messages (login noise stays out of the way). */
export function tail(s: string, lines = 6): string {
  return s.trim().split(/\r?\n/).slice(-lines).join('\n');
}
