/**
 * The agent's run dir as a contract between the agent, which makes it, and a
 * client on the same host, which finds a running agent there without
 * starting a node process (the embedded default; the SSH connect script reads
 * the same files with shell). No I/O here: callers pass what they looked up.
 */

import { parseJsonRecord } from './json-record.js';

/** The files in a run dir. */
export const RUN_DIR_FILES = { socket: 'agent.sock', lock: 'agent.lock', token: 'agent.token' } as const;

export interface RunPaths {
  dir: string;
  socket: string;
  lock: string;
  token: string;
}

export function runPaths(dir: string): RunPaths {
  const at = (f: string) => (dir.endsWith('/') ? dir + f : `${dir}/${f}`);
  return { dir, socket: at(RUN_DIR_FILES.socket), lock: at(RUN_DIR_FILES.lock), token: at(RUN_DIR_FILES.token) };
}

/**
 * The run dir an agent uses when not told: `$XDG_RUNTIME_DIR/clustrix` when
 * that variable names an absolute directory owned by `uid` (`ownedDir` checks
 * it), else `/tmp/clustrix-<uid>`. `$CLUSTRIX_RUN_DIR` wins over both.
 */
export function defaultRunDir(env: Record<string, string | undefined>, uid: number, ownedDir: (path: string) => boolean): string {
  if (env.CLUSTRIX_RUN_DIR) return env.CLUSTRIX_RUN_DIR;
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg && xdg.startsWith('/') && ownedDir(xdg)) return `${xdg.replace(/\/+$/, '')}/clustrix`;
  return `/tmp/clustrix-${uid}`;
}

/** What the lock file holds: the agent's pid, when it started, and its build. */
export interface LockInfo {
  pid: number;
  startedAt: number;
  build: string;
}

/** The lock file's content, or null when it is not a lock (torn write, garbage). */
export function parseLock(text: string): LockInfo | null {
  const o = parseJsonRecord(text);
  if (!o || typeof o.pid !== 'number' || !Number.isInteger(o.pid) || o.pid <= 0) return null;
  return { pid: o.pid, startedAt: typeof o.startedAt === 'number' ? o.startedAt : 0, build: typeof o.build === 'string' ? o.build : '' };
}
