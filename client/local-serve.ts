/**
 * Start the local agent as ONE node process: launch `agent.mjs serve`
 * detached and read its readiness line from fd 3, instead of running
 * `agent.mjs start`, which would start node once more to launch it (the SSH
 * connect script does the same on the cluster). Only worth it when no agent
 * holds the lock; whatever goes wrong here, the caller falls back to `start`,
 * which replaces agents of other builds, waits out racing starters and
 * reports errors in full.
 */
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { AGENT_DEFAULTS } from '../protocol/index.js';
import { parseReadyLine, type StartInfo } from './start-line.js';

/** The agent's info once it listens; null when it did not get there (locked by a racing starter, crashed, too slow). */
export function serveLocalAgent(node: string, agent: string, args: string[]): Promise<StartInfo | null> {
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(node, [agent, 'serve', ...args], {
        detached: true,
        stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
        env: { ...process.env, CLUSTRIX_READY_FD: '3' },
      });
    } catch {
      resolve(null);
      return;
    }
    const ready = child.stdio[3] as Readable;
    let line = '';
    const done = (info: StartInfo | null) => {
      clearTimeout(timer);
      child.removeAllListeners();
      ready.removeAllListeners();
      ready.on('error', () => {});
      ready.destroy();
      child.unref();
      resolve(info);
    };
    const timer = setTimeout(() => done(null), AGENT_DEFAULTS.startTimeoutMs);
    ready.setEncoding('utf8');
    ready.on('data', (d: string) => {
      line += d;
      const nl = line.indexOf('\n');
      if (nl < 0) return;
      done(parseReadyLine(line.slice(0, nl)));
    });
    ready.on('error', () => done(null));
    child.on('error', () => done(null));
    child.on('exit', () => done(null));
  });
}
