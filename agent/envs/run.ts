/**
 * Run one build command: argv only (through `/bin/sh` solely to source the
 * prelude with modules and variables, the argv passed as "$@"), output split
 * into lines and handed to `onLines`, a tail kept for the error, killed on
 * cancel or timeout.
 */
import { spawn } from 'node:child_process';

export interface RunResult {
  exitCode: number | null;
  signal: string | null;
  /** Last lines of stdout+stderr, interleaved as they came. */
  tail: string[];
  timedOut: boolean;
}

/** Lines of output kept for the error report. */
export const TAIL_LINES = 40;

export function runStep(
  argv: readonly string[],
  o: {
    cwd: string;
    prelude: string;
    env: NodeJS.ProcessEnv;
    timeoutMs: number;
    signal: AbortSignal;
    onLines: (stream: 'stdout' | 'stderr', lines: string[]) => void;
  },
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', '. "$0" && exec "$@"', o.prelude, ...argv], {
      cwd: o.cwd,
      env: o.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const tail: string[] = [];
    let timedOut = false;
    const kill = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGTERM'); // the whole group: npm and pip spawn children
      } catch {
        /* gone */
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, o.timeoutMs);
    o.signal.addEventListener('abort', kill, { once: true });
    for (const name of ['stdout', 'stderr'] as const) {
      let rest = '';
      const s = child[name];
      s.setEncoding('utf8');
      s.on('data', (d: string) => {
        const parts = (rest + d).split('\n');
        rest = parts.pop()!;
        if (parts.length) emit(name, parts);
      });
      s.on('end', () => {
        if (rest) emit(name, [rest]);
        rest = '';
      });
    }
    function emit(stream: 'stdout' | 'stderr', lines: string[]): void {
      tail.push(...lines);
      if (tail.length > TAIL_LINES) tail.splice(0, tail.length - TAIL_LINES);
      o.onLines(stream, lines);
    }
    child.on('error', (err) => {
      tail.push(String(err.message));
      finish(127, null);
    });
    child.on('close', (code, sig) => finish(code, sig));
    let done = false;
    function finish(exitCode: number | null, signal: string | null): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      o.signal.removeEventListener('abort', kill);
      resolve({ exitCode, signal, tail: [...tail], timedOut });
    }
  });
}
