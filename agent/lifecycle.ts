/**
 * `start` (idempotent), `stop` and `status`: the commands a client runs over
 * `ssh … /bin/sh -c` (or locally) to manage the agent of this user on this host.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { AGENT_DEFAULTS, PROTOCOL_VERSION, START_LINE_MAGIC } from '../protocol/index.js';
import { ownBuild, ownBundlePath } from './build-info.js';
import { listRegistry } from './host-registry.js';
import { readLock } from './lock.js';
import { toArgv, type AgentOptions } from './options.js';
import { isAgentProcess } from './proc.js';
import { ensureRunDir, runPaths } from './rundir.js';
import type { ReadyInfo, ReadyMessage } from './serve.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function socketAnswers(path: string, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    const t = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}

/** The running agent of this run dir, if it is alive and answering. */
export async function findRunning(opts: AgentOptions): Promise<ReadyInfo | null> {
  const paths = runPaths(opts.runDir);
  const holder = readLock(paths.lock);
  if (!holder || !isAgentProcess(holder.pid)) return null;
  if (!(await socketAnswers(paths.socket))) return null;
  let token: string;
  try {
    token = readFileSync(paths.token, 'utf8').trim();
  } catch {
    return null;
  }
  return {
    socket: paths.socket,
    protocol: PROTOCOL_VERSION,
    build: holder.build,
    pid: holder.pid,
    token,
    runDir: paths.dir,
    root: opts.root,
    host: opts.host,
    node: process.version,
    logFile: '',
  };
}

async function waitExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAgentProcess(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** SIGTERM the agent holding the lock, SIGKILL if it does not go. */
export async function stopAgent(opts: AgentOptions): Promise<{ stopped: boolean; pid?: number }> {
  const holder = readLock(runPaths(opts.runDir).lock);
  if (!holder || !isAgentProcess(holder.pid)) return { stopped: false };
  try {
    process.kill(holder.pid, 'SIGTERM');
  } catch {
    return { stopped: false };
  }
  if (!(await waitExit(holder.pid, 10_000))) {
    try {
      process.kill(holder.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    await waitExit(holder.pid, 2_000);
  }
  return { stopped: true, pid: holder.pid };
}

function spawnServe(opts: AgentOptions): Promise<ReadyMessage> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [ownBundlePath(), 'serve', ...toArgv(opts)], {
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
      env: { ...process.env, CLUSTRIX_READY_FD: '3' },
    });
    let buf = '';
    let done = false;
    const finish = (m: ReadyMessage) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.unref();
      (child.stdio[3] as NodeJS.ReadableStream | null)?.removeAllListeners();
      (child.stdio[3] as unknown as { destroy?: () => void } | null)?.destroy?.();
      resolve(m);
    };
    const timer = setTimeout(
      () => finish({ ok: false, error: `agent did not report ready within ${AGENT_DEFAULTS.startTimeoutMs} ms` }),
      AGENT_DEFAULTS.startTimeoutMs,
    );
    const ready = child.stdio[3] as NodeJS.ReadableStream;
    ready.setEncoding('utf8');
    ready.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        try {
          finish(JSON.parse(buf.slice(0, nl)) as ReadyMessage);
        } catch {
          finish({ ok: false, error: `agent wrote an unreadable ready line: ${buf.slice(0, 200)}` });
        }
      }
    });
    child.on('error', (err) => finish({ ok: false, error: `cannot run ${process.execPath}: ${err.message}` }));
    child.on('exit', (code, sig) => finish({ ok: false, error: `agent exited before it was ready (code ${code}, signal ${sig})` }));
  });
}

/**
 * Find the live agent or start one; return its info. Replaces a live agent of
 * a different build (its clients reconnect to the new one).
 */
export async function startAgent(opts: AgentOptions): Promise<ReadyInfo & { started: boolean }> {
  ensureRunDir(opts.runDir);
  const build = ownBuild();
  const deadline = Date.now() + AGENT_DEFAULTS.startTimeoutMs * 2;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    const running = await findRunning(opts);
    if (running && running.build === build) return { ...running, started: false };
    if (running) await stopAgent(opts);
    const msg = await spawnServe(opts);
    if (msg.ok) return { ...msg.info, started: true };
    if (msg.locked === undefined) throw new Error(msg.error);
    // Another starter won the race: wait for its agent to answer, then loop.
    await sleep(Math.min(50 * 2 ** attempt, 500));
  }
  throw new Error(`could not start or reach the agent in ${opts.runDir} within ${AGENT_DEFAULTS.startTimeoutMs * 2} ms`);
}

export function startLine(info: object): string {
  return START_LINE_MAGIC + JSON.stringify(info);
}

export { listRegistry };
