/** Run the real GNU tools with argv (never a shell string) and parse their output byte-exactly. */
import { execFile, execFileSync } from 'node:child_process';

export interface Run {
  stdout: Buffer;
  stderr: string;
  code: number;
}

/** Run a command; resolves whatever the exit code (find exits 1 after "Permission denied"). */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; asUser?: boolean } = {}): Promise<Run> {
  const [c, a] = opts.asUser ? unprivileged(cmd, args) : [cmd, args];
  return new Promise((resolve, reject) => {
    execFile(c, a, { cwd: opts.cwd, env: opts.env ?? { ...process.env, LC_ALL: 'C.UTF-8' }, encoding: 'buffer', maxBuffer: 1 << 30 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      if (err && code === -1) return reject(err);
      resolve({ stdout, stderr: stderr.toString('utf8'), code });
    });
  });
}

/** Split NUL-terminated output (find -print0) into exact byte strings. */
export function splitNul(out: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < out.length; i++) {
    if (out[i] === 0) {
      parts.push(out.subarray(start, i));
      start = i + 1;
    }
  }
  return parts;
}

/** Sorted, byte-exact set as hex-free comparable strings (latin1 keeps every byte as one char). */
export function byteSet(paths: Iterable<Buffer | Uint8Array>): string[] {
  return [...paths].map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('latin1')).sort();
}

/** Render a byte set readably in assertion failures. */
export function show(set: string[]): string[] {
  return set.map((s) => JSON.stringify(Buffer.from(s, 'latin1').toString('utf8')));
}

export const isRoot = (): boolean => process.getuid?.() === 0;

/** The unprivileged account used to see permission errors when tests run as root. */
export const NOBODY = 65534;

/** argv that runs `cmd` as an unprivileged user when we are root (setpriv), else as is. */
export function unprivileged(cmd: string, args: string[]): [string, string[]] {
  if (!isRoot()) return [cmd, args];
  return ['setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', cmd, ...args]];
}

/** Can we drop privileges here (setpriv present and permitted)? */
export function canDropPrivileges(): boolean {
  if (!isRoot()) return true;
  try {
    execFileSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
