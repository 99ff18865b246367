/**
 * Get a running agent of OUR build on the remote host and learn its socket
 * and token, in as few round trips as possible:
 *   warm   one exec, pure shell: the agent is up → its pid/token/socket;
 *   cold   the same exec runs `node agent.mjs start` (idempotent);
 *   fresh  nothing installed → install (probe, upload, verify, rename), start.
 * A start line of another build means a broken install: reinstall once, then
 * fail with a clear error.
 */
import type { Client } from 'ssh2';
import { agentBundle } from '../agent-bundle.js';
import { ConnectionError } from '../errors.js';
import { parseReadyLine, parseStartOutput, type StartInfo } from '../start-line.js';
import { installAgent, type InstallOptions, type InstallReport } from './install.js';
import type { PhaseClock } from './phases.js';
import { execScript, tail } from './remote-exec.js';
import { connectScript, MARK, type AgentPlace } from './scripts.js';

export interface StartOptions extends InstallOptions {
  /** Node-local run dir on the cluster. Default: the agent's ($XDG_RUNTIME_DIR/clustrix or /tmp/clustrix-<uid>). */
  runDir?: string;
  /** Agent idle exit (ms) when this call starts it. */
  idleExitMs?: number;
  /** 'auto' (default) installs when needed; 'never' fails instead. */
  install?: 'auto' | 'never';
}

/** What we know about the agent we are about to connect to. */
export interface RemoteAgentInfo {
  socket: string;
  token: string;
  pid: number;
  build: string;
  runDir: string;
  /** Absolute root on the cluster. */
  root: string;
  /** How we got it: cached socket+token (no exec), already running (warm), started now, or installed then started. */
  how: 'cached' | 'warm' | 'started' | 'reused' | 'installed';
  /** Present when this call installed the agent. */
  install?: InstallReport;
  /** Node version running the agent (unknown on the warm path). */
  node?: string;
  host?: string;
}

export function parseWarm(stdout: string): Omit<RemoteAgentInfo, 'build' | 'how'> | null {
  const at = stdout.indexOf(MARK.warm + '\n');
  if (at < 0) return null;
  const [pid, token, runDir, root, end] = stdout.slice(at + MARK.warm.length + 1).split('\n');
  if (end !== MARK.end || !pid || !/^\d+$/.test(pid) || !token || !runDir || !root) return null;
  return { pid: Number(pid), token, runDir, root, socket: `${runDir}/agent.sock` };
}

export function agentPlace(opts: StartOptions, build: string): AgentPlace {
  return { root: opts.root, build, runDir: opts.runDir, nodePath: opts.nodePath, idleExitMs: opts.idleExitMs };
}

/**
 * The readiness line of a `serve` the connect script launched directly (the
 * line after MARK.serve): the agent's info; 'failed' when it did not report
 * ready (a racing starter holds the lock, it crashed…: the caller then runs
 * `start`, which sorts these out or says what is wrong); null when the
 * script did not take that path.
 */
export function parseServed(stdout: string): StartInfo | 'failed' | null {
  const at = stdout.indexOf(MARK.serve + '\n');
  if (at < 0) return null;
  return parseReadyLine(stdout.slice(at + MARK.serve.length + 1).split('\n')[0]!) ?? 'failed';
}

/**
 * Find or start the agent; install it first if needed. `clock` gets the
 * phases: 'exec open', then 'agent script' (warm check or start), 'install'.
 */
export async function startRemoteAgent(ssh: Client, opts: StartOptions & { allowWarm?: boolean } = {}, clock?: PhaseClock): Promise<RemoteAgentInfo> {
  const bundle = opts.bundle ?? agentBundle();
  let install: InstallReport | undefined;
  let reinstalled = false;
  let direct = true;
  for (;;) {
    const r = await execScript(ssh, connectScript(agentPlace(opts, bundle.build), { allowWarm: opts.allowWarm !== false, direct }), {
      signal: opts.signal,
      onOpen: () => clock?.mark('exec open'),
    });
    clock?.mark('agent script');
    const warm = parseWarm(r.stdout);
    if (warm) return { ...warm, build: bundle.build, how: 'warm' };
    const served = parseServed(r.stdout);
    if (served === 'failed') {
      direct = false;
      continue;
    }
    const info = served ?? parseStartOutput(r.stdout);
    if (info && info.build === bundle.build) {
      return {
        socket: info.socket,
        token: info.token,
        pid: info.pid,
        build: info.build,
        runDir: info.runDir,
        root: info.root,
        how: install ? 'installed' : info.started ? 'started' : 'reused',
        install,
        node: info.node,
        host: info.host,
      };
    }
    const needInstall = r.stdout.includes(MARK.needInstall);
    // Installed but does not start: a damaged file (or node) — reinstalling once tells which.
    // An error the agent itself reported (its "clustrix agent:" prefix) means the install is fine: say it, don't reinstall.
    const broken = !info && !needInstall;
    if (broken && (reinstalled || install || /clustrix agent:/.test(r.stderr))) {
      throw new ConnectionError('handshake', `the agent did not start (exit ${r.code}): ${tail(r.stderr || r.stdout)}`, {
        details: { stdout: tail(r.stdout, 20), stderr: tail(r.stderr, 20) },
      });
    }
    if (info && reinstalled) {
      throw new ConnectionError(
        'handshake',
        `the agent on the cluster reports build ${info.build} after a reinstall, but this client ships ${bundle.build}; remove ${info.root}/agent/${bundle.build} and try again`,
      );
    }
    if (opts.install === 'never') {
      const why = info
        ? `the agent on the cluster is build ${info.build}, expected ${bundle.build}`
        : broken
          ? `the installed agent does not start: ${tail(r.stderr || r.stdout)}`
          : `the agent (build ${bundle.build}) is not installed on the cluster`;
      throw new ConnectionError('handshake', `${why}; run \`clustrix install\``);
    }
    if (install && needInstall)
      throw new ConnectionError('handshake', `the agent was installed but the cluster still reports it missing: ${tail(r.stderr || r.stdout)}`);
    // Not installed, or the installed file is not what its path promises: (re)install, once.
    reinstalled = info !== null || broken;
    install = await installAgent(ssh, opts);
    clock?.mark('install');
  }
}
