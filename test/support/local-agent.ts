/** A private root + run dir per test file, so tests never touch the user's real agent. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type Cluster } from '../../client/index.js';
import { runLocalAgent, type LocalOptions } from '../../client/local.js';

export const BUNDLE = join(import.meta.dirname, '..', '..', 'dist', 'agent.mjs');

export interface LocalEnv {
  root: string;
  runDir: string;
  opts: LocalOptions;
  connect(extra?: Partial<LocalOptions>): Promise<Cluster>;
  /** pid of the agent holding the lock, or null. */
  lockPid(): number | null;
  cleanup(): Promise<void>;
}

export function localEnv(extra: Partial<LocalOptions> = {}): LocalEnv {
  // Short run dir: socket paths are limited to ~107 bytes.
  const base = mkdtempSync('/tmp/clx-');
  const root = join(base, 'root');
  const runDir = join(base, 'run');
  const opts: LocalOptions = { root, runDir, idleExitMs: 60_000, ...extra };
  return {
    root,
    runDir,
    opts,
    connect: (more = {}) => connect('local', { ...opts, ...more }),
    lockPid() {
      try {
        return (JSON.parse(readFileSync(join(runDir, 'agent.lock'), 'utf8')) as { pid: number }).pid;
      } catch {
        return null;
      }
    },
    async cleanup() {
      await runLocalAgent(opts, 'stop');
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** Alive and not a zombie (an exited agent reparented to a PID 1 that does not reap stays a zombie). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

export function nodeVersionOk(): boolean {
  return Number(execFileSync(process.execPath, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' })) >= 18;
}
