/**
 * The embedded default: run the same agent as a local detached process and
 * talk to its Unix socket directly. No SSH, no cluster.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { agentBundle } from './agent-bundle.js';
import { Connection } from './connection.js';
import { ConnectionError, isFinalConnectFailure } from './errors.js';
import { defaultRunDir } from '../protocol/index.js';
import { findLocalAgent, lockHeld } from './local-find.js';
import { ownedDir } from './local-trust.js';
import { serveLocalAgent } from './local-serve.js';
import { parseStartOutput, type StartInfo } from './start-line.js';

export interface LocalOptions {
  /** Root for agent bundles, logs, jobs. Default $CLUSTRIX_ROOT or ~/.clustrix. */
  root?: string;
  /** Run dir for socket/lock/token. Default: the agent's ($XDG_RUNTIME_DIR/clustrix or /tmp/clustrix-<uid>). */
  runDir?: string;
  /** Agent idle exit, ms. Default 10 min. */
  idleExitMs?: number;
  /** Node binary to run the agent with. Default: this process's. */
  nodePath?: string;
  clientName?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export function localRoot(opts: LocalOptions): string {
  return opts.root ?? process.env.CLUSTRIX_ROOT ?? join(homedir(), '.clustrix');
}

/** The run dir the local agent uses: --run-dir, else the agent's default for this user (protocol/run-dir.ts). */
export function localRunDir(opts: LocalOptions): string {
  if (opts.runDir) return opts.runDir;
  const uid = process.getuid?.() ?? 0;
  return defaultRunDir(process.env, uid, (dir) => ownedDir(dir, uid));
}

/** Copy the bundle into <root>/agent/<build>/agent.mjs (content-addressed, atomic). */
export function installLocalAgent(root: string): string {
  const bundle = agentBundle();
  const dir = join(root, 'agent', bundle.build);
  const target = join(dir, 'agent.mjs');
  if (existsSync(target)) return target;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${target}.${process.pid}.tmp`;
  writeFileSync(tmp, bundle.bytes, { mode: 0o600 });
  renameSync(tmp, target);
  return target;
}

function agentArgs(opts: LocalOptions, root: string): string[] {
  const args = ['--root', root];
  if (opts.runDir) args.push('--run-dir', opts.runDir);
  if (opts.idleExitMs !== undefined) args.push('--idle-exit-ms', String(opts.idleExitMs));
  return args;
}

/** Run `agent.mjs <command>` locally and return stdout. */
export function runLocalAgent(opts: LocalOptions, command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const root = localRoot(opts);
  const agent = installLocalAgent(root);
  return new Promise((resolve) => {
    execFile(opts.nodePath ?? process.execPath, [agent, command, ...agentArgs(opts, root)], { timeout: 60_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** `agent.mjs serve` launched straight from here (one node start-up instead of two); null: use `start`. */
function serveDirect(opts: LocalOptions): Promise<StartInfo | null> {
  const root = localRoot(opts);
  return serveLocalAgent(opts.nodePath ?? process.execPath, installLocalAgent(root), agentArgs(opts, root));
}

/** Start (or reuse) the local agent and return what it reported. */
export async function startLocalAgent(opts: LocalOptions): Promise<StartInfo> {
  const r = await runLocalAgent(opts, 'start');
  const info = parseStartOutput(r.stdout);
  if (!info) {
    throw new ConnectionError('handshake', `local agent did not start: ${(r.stderr || r.stdout).trim() || `exit code ${r.code}`}`);
  }
  return info;
}

export function connectUnix(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect(path);
    s.once('connect', () => {
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', (err) => reject(new ConnectionError('tunnel', `cannot connect to the agent socket ${path}: ${err.message}`, { cause: err })));
  });
}

/**
 * The running agent of our build, found by reading its run dir and opened
 * straight away (no node process); null when there is none or it does not
 * answer on its socket or take its token (it is stopping, idled out, or was
 * replaced in between), so the caller starts one.
 */
async function openRunning(opts: LocalOptions, runDir: string, build: string): Promise<{ conn: Connection; info: StartInfo } | null> {
  const found = findLocalAgent(runDir, build);
  if (!found) return null;
  let sock: Socket;
  try {
    sock = await connectUnix(found.socket);
  } catch {
    return null;
  }
  let conn: Connection;
  try {
    conn = await Connection.open(sock, { token: found.token, clientName: opts.clientName, timeoutMs: opts.timeoutMs, signal: opts.signal });
  } catch (err) {
    // A refused token or a close mid-handshake (idle exit, replaced) is what `start` sorts out.
    if (isFinalConnectFailure(err, opts.signal)) throw err;
    return null;
  }
  if (conn.welcome.build !== build) {
    await conn.close();
    return null;
  }
  return { conn, info: { ...found, root: localRoot(opts), host: conn.welcome.host, pid: conn.welcome.pid } };
}

/** Start/reuse the local agent and open a protocol connection to it. */
export async function openLocal(opts: LocalOptions): Promise<{ conn: Connection; info: StartInfo }> {
  const bundle = agentBundle();
  const runDir = localRunDir(opts);
  const running = await openRunning(opts, runDir, bundle.build);
  if (running) return running;
  let info = (!lockHeld(runDir) && (await serveDirect(opts))) || (await startLocalAgent(opts));
  if (info.build !== bundle.build) {
    // `start` replaces an agent of another build; if we still see one, something raced us.
    info = await startLocalAgent(opts);
    if (info.build !== bundle.build) {
      throw new ConnectionError(
        'handshake',
        `local agent runs build ${info.build}, this client ships ${bundle.build}; stop it with \`clustrix agent stop local\``,
      );
    }
  }
  let sock: Socket;
  try {
    sock = await connectUnix(info.socket);
  } catch {
    // The agent may have just idled out between start and connect: start once more.
    info = await startLocalAgent(opts);
    sock = await connectUnix(info.socket);
  }
  const conn = await Connection.open(sock, { token: info.token, clientName: opts.clientName, timeoutMs: opts.timeoutMs, signal: opts.signal });
  return { conn, info };
}
