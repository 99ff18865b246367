/**
 * Running scheduler commands: execFile with an argv array (never a shell),
 * a timeout, a count per command (the poller's bench reads it), and errors
 * classified as transient (worth a retry with backoff) or not.
 */
import { execFile } from 'node:child_process';
import { ProtocolError } from '../../../protocol/index.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  stdin?: string;
  /** Milliseconds before the command is killed. Default 60 s. */
  timeoutMs?: number;
}

/** Runs commands; swapped for a fake in tests. */
export interface Runner {
  run(cmd: string, args: string[], opts?: RunOptions): Promise<RunResult>;
}

/** Messages that mean "the scheduler is busy or unreachable right now", not "your request is wrong". */
const TRANSIENT = [
  /socket timed out/i,
  /unable to contact slurm controller/i,
  /slurm_load_jobs error: (socket|unable|connection)/i,
  /connection (refused|timed out|reset)/i,
  /temporarily unavailable/i,
  /try again/i,
  /unable to contact qmaster/i,
  /commlib error/i,
  /can't connect to/i,
  /cannot connect to server/i,
  /pbs_iff/i,
  /(LSF|LIM|mbatchd) is (down|not responding)/i,
  /batch system daemon not responding/i,
  /failed in an LSF library call/i,
  /communication error/i,
];

export function isTransient(text: string): boolean {
  return TRANSIENT.some((r) => r.test(text));
}

/** Submit failures where the scheduler never got the job: safe to retry the submit. */
const NOT_SENT = [/unable to contact slurm controller \(connect failure\)/i, /connection refused/i, /cannot connect to server/i, /unable to contact qmaster/i];

export function safeToResubmit(text: string): boolean {
  return NOT_SENT.some((r) => r.test(text));
}

export function schedulerError(argv: string[], r: RunResult | null, message?: string): ProtocolError {
  const stderr = (r?.stderr || r?.stdout || '').trim().slice(0, 4000);
  const text = message ?? (stderr.split('\n').filter(Boolean).slice(-3).join('; ') || `exit code ${r?.code}`);
  return new ProtocolError('SCHEDULER', `${argv[0]} failed: ${text}`, {
    argv: argv.slice(0, 64),
    exitCode: r?.code ?? null,
    stderr,
    transient: isTransient(stderr + ' ' + (message ?? '')),
  });
}

/** The real runner: execFile, counting calls per command name. */
export class ExecRunner implements Runner {
  readonly calls: Record<string, number> = {};
  readonly #env: NodeJS.ProcessEnv;

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.#env = env;
  }

  run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    const name = cmd.split('/').pop() ?? cmd;
    this.calls[name] = (this.calls[name] ?? 0) + 1;
    return new Promise((resolve) => {
      const child = execFile(
        cmd,
        args,
        { env: this.#env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 256 * 1024 * 1024, killSignal: 'SIGKILL' },
        (err, stdout, stderr) => {
          if (!err) return resolve({ code: 0, stdout, stderr });
          const e = err as NodeJS.ErrnoException & { code?: unknown; killed?: boolean };
          if (e.code === 'ENOENT') return resolve({ code: 127, stdout: '', stderr: `${cmd}: command not found` });
          if (e.killed) return resolve({ code: 124, stdout, stderr: `${stderr}\n${cmd}: timed out after ${opts.timeoutMs ?? 60_000} ms (try again)` });
          resolve({ code: typeof e.code === 'number' ? e.code : 1, stdout, stderr: stderr || e.message });
        },
      );
      if (opts.stdin !== undefined) child.stdin?.end(opts.stdin);
      else child.stdin?.end();
    });
  }
}
