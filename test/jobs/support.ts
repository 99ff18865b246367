/**
 * Jobs end-to-end support: the Slurm/SGE testbed state, and a real agent run
 * as the unprivileged test user (SGE refuses root's jobs; jobs must run as
 * the user) with the scheduler's environment, reached from the test process
 * (root) over its Unix socket. Missing testbed: skip with the reason, or fail
 * when CI=true.
 */
import { execFile, spawn } from 'node:child_process';
import { chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe } from 'vitest';
import { Cluster } from '../../client/cluster.js';
import { Connection } from '../../client/connection.js';
import { connectUnix } from '../../client/local.js';
import { parseStartOutput, type StartInfo } from '../../client/start-line.js';
import { isAlive } from '../support/local-agent.js';

const run = promisify(execFile);
const projectRoot = join(import.meta.dirname, '..', '..');
export const BUNDLE = join(projectRoot, 'dist', 'agent.mjs');
const stateFile = join(process.env.CLUSTRIX_TESTBED_DIR ?? join(projectRoot, '.testbed'), 'state.json');

export interface SlurmBed {
  env: { SLURM_CONF: string };
  partitions: string[];
  cpus: number;
  realMemoryMb: number;
  maxArraySize: number;
  canEnforceMemory: boolean;
  user: string;
}

export interface SgeBed {
  env: { SGE_ROOT: string; SGE_CELL: string; SGE_QMASTER_PORT: string; SGE_EXECD_PORT: string };
  path: string;
  queues: string[];
  slots: number;
  canEnforceMemory: boolean;
  user: string;
}

type Beds = { slurm?: SlurmBed & { skipped?: string }; sge?: SgeBed & { skipped?: string } };

export function loadBed<K extends 'slurm' | 'sge'>(name: K): { state: NonNullable<Beds[K]> | null; reason: string } {
  if (!existsSync(BUNDLE)) return { state: null, reason: 'dist/agent.mjs is not built (node scripts/build.mjs)' };
  if (!existsSync(stateFile)) return { state: null, reason: `no testbed state at ${stateFile} (node scripts/testbed/index.mjs up ${name})` };
  const all = JSON.parse(readFileSync(stateFile, 'utf8')) as Beds;
  const s = all[name];
  if (!s) return { state: null, reason: `the ${name} testbed is not up (node scripts/testbed/index.mjs up ${name})` };
  if (s.skipped) return { state: null, reason: `the ${name} testbed was skipped: ${s.skipped}` };
  return { state: s, reason: '' };
}

/** `describe` when the component is up; otherwise skip saying why (or throw under CI=true). */
export function describeBed(name: string, reason: string, fn: () => void): void {
  if (!reason) return void describe(name, fn);
  if (process.env.CI === 'true') throw new Error(`jobs end-to-end suite "${name}" needs the testbed: ${reason}`);
  process.stderr.write(`[skip] ${name}: ${reason}\n`);
  describe.skip(`${name} (skipped: ${reason})`, fn);
}

export interface UserInfo {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export function userInfoOf(name: string): UserInfo {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no user ${name}`);
  const f = line.split(':');
  return { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! };
}

/** The scheduler env a login shell of the user would have. */
export function schedulerEnv(user: UserInfo, slurm: SlurmBed | null, sge: SgeBed | null): Record<string, string> {
  return {
    PATH: `${sge ? `${sge.path}:` : ''}/usr/local/bin:/usr/bin:/bin`,
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
    ...(slurm?.env ?? {}),
    ...(sge?.env ?? {}),
  };
}

/** Run a scheduler command as the user (argv; for assertions on what the scheduler recorded). */
export async function asUser(
  user: UserInfo,
  env: Record<string, string>,
  cmd: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(cmd, args, { uid: user.uid, gid: user.gid, env, cwd: '/tmp', maxBuffer: 64 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** A real agent running as `user`, with its own root and run dir, and a way to kill and restart it. */
export interface UserAgent {
  root: string;
  runDir: string;
  user: UserInfo;
  env: Record<string, string>;
  info: StartInfo;
  connect(): Promise<Cluster>;
  /** kill -9 the agent (jobs keep running), then `start` a fresh one. */
  killAndRestart(): Promise<StartInfo>;
  kill9(): Promise<void>;
  start(): Promise<StartInfo>;
  cleanup(): Promise<void>;
}

export async function startUserAgent(user: UserInfo, env: Record<string, string>, extraEnv: Record<string, string> = {}): Promise<UserAgent> {
  // Short paths (socket ≤ 107 bytes); owned by the user, as on a cluster.
  const base = mkdtempSync('/tmp/clxj-');
  chownSync(base, user.uid, user.gid);
  const root = join(base, 'root');
  const runDir = join(base, 'run');
  const agentDir = join(root, 'agent', 'test');
  mkdirSync(agentDir, { recursive: true });
  const agent = join(agentDir, 'agent.mjs');
  copyFileSync(BUNDLE, agent);
  for (const p of [root, join(root, 'agent'), agentDir, agent]) chownSync(p, user.uid, user.gid);
  const fullEnv = { ...env, ...extraEnv };
  const startOnce = () =>
    new Promise<StartInfo>((resolve, reject) => {
      const child = spawn(process.execPath, [agent, 'start', '--root', root, '--run-dir', runDir, '--idle-exit-ms', '300000'], {
        uid: user.uid,
        gid: user.gid,
        env: fullEnv,
        cwd: '/tmp',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('close', () => {
        const info = parseStartOutput(out);
        if (info) resolve(info);
        else reject(new Error(`agent did not start as ${user.name}: ${err || out}`));
      });
    });
  const ua: UserAgent = {
    root,
    runDir,
    user,
    env: fullEnv,
    info: await startOnce(),
    async connect() {
      const sock = await connectUnix(ua.info.socket);
      const conn = await Connection.open(sock, { token: ua.info.token, clientName: 'jobs-test' });
      return new Cluster(`${user.name}@local`, conn);
    },
    async kill9() {
      const pid = ua.info.pid;
      process.kill(pid, 'SIGKILL');
      const deadline = Date.now() + 10_000;
      while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    },
    async start() {
      ua.info = await startOnce();
      return ua.info;
    },
    async killAndRestart() {
      await ua.kill9();
      return ua.start();
    },
    async cleanup() {
      if (isAlive(ua.info.pid)) {
        process.kill(ua.info.pid, 'SIGTERM');
        const deadline = Date.now() + 10_000;
        while (isAlive(ua.info.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
  return ua;
}

/** Poll `fn` until it returns a truthy value or the time is up (then throw with `what`). */
export async function until<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  timeoutMs: number,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
