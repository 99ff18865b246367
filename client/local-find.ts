/**
 * Find the running local agent by reading its run dir, without running
 * `node agent.mjs start` (a node start-up, ~0.1 s, on every local connect).
 * The same checks as the SSH connect script's warm path: the run dir is a
 * real directory of ours that nobody else can enter, the lock names our build,
 * the token is a regular file of ours. Liveness is left to the caller: a
 * socket that does not answer, or an agent that refuses the token, sends it
 * down the `start` path, which sorts out stale and racing agents.
 */
import { lstatSync, readFileSync } from 'node:fs';
import { parseLock, PROTOCOL_VERSION, runPaths, type StartLineInfo } from '../protocol/index.js';
import { ownedPrivateDir, processAlive } from './local-trust.js';

/** What a run dir says about the agent in it, when it can be trusted and names `build`. */
export function findLocalAgent(runDir: string, build: string, uid = process.getuid?.() ?? -1): StartLineInfo | null {
  const paths = runPaths(runDir);
  try {
    if (!ownedPrivateDir(paths.dir, uid)) return null;
    const lock = parseLock(readFileSync(paths.lock, 'utf8'));
    if (!lock || lock.build !== build) return null;
    const tok = lstatSync(paths.token);
    if (!tok.isFile() || (uid >= 0 && tok.uid !== uid)) return null;
    const token = readFileSync(paths.token, 'utf8').trim();
    if (!token) return null;
    return {
      socket: paths.socket,
      protocol: PROTOCOL_VERSION,
      build: lock.build,
      pid: lock.pid,
      token,
      runDir: paths.dir,
      root: '',
      host: '',
      node: '',
      logFile: '',
      started: false,
    };
  } catch {
    return null; // no run dir, no lock, no token yet: not running (or starting)
  }
}

/** True when the run dir's lock names a live process: an agent (maybe of another build) or one starting. */
export function lockHeld(runDir: string): boolean {
  let pid: number | undefined;
  try {
    pid = parseLock(readFileSync(runPaths(runDir).lock, 'utf8'))?.pid;
  } catch {
    return false;
  }
  return pid !== undefined && processAlive(pid);
}
