/** Process liveness checks that survive pid reuse. */
import { readFileSync } from 'node:fs';

export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * True if `pid` is alive and looks like a clustrix agent. Where /proc exists we
 * check its command line so a recycled pid (some unrelated program) does not
 * keep a stale lock alive; elsewhere liveness alone decides.
 */
export function isAgentProcess(pid: number): boolean {
  if (!isAlive(pid)) return false;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
  } catch {
    return true;
  }
  return cmdline.includes('agent') && cmdline.includes('serve');
}
