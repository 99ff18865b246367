// Shared helpers for the testbed components (sshd, slurm, sge).
// Plain ESM with no dependencies: the testbed must come up before `npm ci` has
// anything to offer, and it runs under the same Node as the tests.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Project root (two levels above this file). */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Where every testbed component keeps its state (keys, configs, pid files, logs).
 * Overridable with CLUSTRIX_TESTBED_DIR. World-readable parent so test users can
 * traverse to what they are meant to read (e.g. a public key); secrets inside are
 * created 0600/0700 by each component.
 */
export const TESTBED_DIR = process.env.CLUSTRIX_TESTBED_DIR ? resolve(process.env.CLUSTRIX_TESTBED_DIR) : join(PROJECT_ROOT, '.testbed');

export const STATE_FILE = join(TESTBED_DIR, 'state.json');

/** Unprivileged accounts the testbed creates when it runs as root. */
export const TEST_USERS = {
  /** Main test account: bash login shell that prints noise on stdout. */
  main: 'clxtest',
  /** tcsh login shell, to prove we never depend on the login shell's syntax. */
  tcsh: 'clxtcsh',
  /** Another local user: must NOT be able to reach clxtest's agent socket. */
  other: 'clxother',
};

export const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

export function log(component, msg) {
  process.stderr.write(`[testbed:${component}] ${msg}\n`);
}

/** Run a command (argv, never a shell string); return trimmed stdout. Throws with stderr on failure. */
export function run(cmd, args = [], opts = {}) {
  try {
    return execFileSync(cmd, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      ...opts,
    }).trim();
  } catch (err) {
    const stderr = err.stderr ? String(err.stderr).trim() : '';
    const stdout = err.stdout ? String(err.stdout).trim() : '';
    const e = new Error(`command failed: ${cmd} ${args.join(' ')}\n${stderr}${stdout ? `\n${stdout}` : ''}`);
    e.status = err.status;
    throw e;
  }
}

/** Like run() but returns { code, stdout, stderr } instead of throwing. */
export function tryRun(cmd, args = [], opts = {}) {
  try {
    const stdout = execFileSync(cmd, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      ...opts,
    });
    return { code: 0, stdout: stdout.trim(), stderr: '' };
  } catch (err) {
    return {
      code: typeof err.status === 'number' ? err.status : 1,
      stdout: err.stdout ? String(err.stdout).trim() : '',
      stderr: err.stderr ? String(err.stderr).trim() : String(err.message),
    };
  }
}

export function which(bin) {
  const r = tryRun('/bin/sh', ['-c', 'command -v "$1"', 'sh', bin]);
  return r.code === 0 && r.stdout ? r.stdout : null;
}

let aptUpdated = false;
/**
 * Install missing Debian packages when running as root. Returns null on success,
 * or a human-readable reason why they could not be installed (caller decides
 * whether that means "skip").
 */
export function ensureDebPackages(component, packages, { preseed = [] } = {}) {
  const missing = packages.filter((p) => tryRun('dpkg-query', ['-W', '-f=${Status}', p]).stdout !== 'install ok installed');
  if (missing.length === 0) return null;
  if (!isRoot()) {
    return `missing Debian packages ${missing.join(', ')} and not root (install them with apt-get)`;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (preseed.length > 0) {
    execFileSync('debconf-set-selections', [], { input: preseed.join('\n') + '\n', env });
  }
  const lock = ['-o', 'DPkg::Lock::Timeout=600'];
  if (!aptUpdated) {
    log(component, 'apt-get update');
    const r = tryRun('apt-get', [...lock, 'update'], { env, timeout: 600_000 });
    if (r.code !== 0) return `apt-get update failed: ${r.stderr}`;
    aptUpdated = true;
  }
  log(component, `installing ${missing.join(' ')}`);
  const r = tryRun('apt-get', [...lock, 'install', '-y', '--no-install-recommends', ...missing], { env, timeout: 1_200_000 });
  if (r.code !== 0) return `apt-get install ${missing.join(' ')} failed: ${r.stderr.slice(-2000)}`;
  return null;
}

/** Create a local account if it does not exist (root only). */
export function ensureUser(name, shell = '/bin/bash') {
  if (tryRun('id', ['-u', name]).code === 0) {
    const cur = tryRun('getent', ['passwd', name]).stdout.split(':')[6];
    if (cur !== shell) run('usermod', ['-s', shell, name]);
    return;
  }
  run('useradd', ['--create-home', '--shell', shell, name]);
}

export function userInfo(name) {
  const line = run('getent', ['passwd', name]);
  const [, , uid, gid, , home, shell] = line.split(':');
  return { name, uid: Number(uid), gid: Number(gid), home, shell };
}

/** Ask the kernel for a free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

/** Resolve once a TCP port accepts connections, or throw after timeoutMs. */
export async function waitForPort(port, { host = '127.0.0.1', timeoutMs = 30_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((res) => {
      const s = connect({ port, host });
      s.once('connect', () => {
        s.destroy();
        res(true);
      });
      s.once('error', () => res(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${host}:${port} did not open within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Poll `check()` (sync or async, truthy = done) until it succeeds or timeoutMs passes. */
export async function waitFor(what, check, { timeoutMs = 30_000, intervalMs = 200 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Start a long-running daemon detached from us, stdout/stderr to logFile.
 * Returns its pid. Daemons that fork themselves should be started in their
 * foreground mode (-D, -f …) so the pid we record is the one to stop.
 */
export function spawnDaemon(cmd, args, { logFile, env, cwd, uid, gid } = {}) {
  mkdirSync(dirname(logFile), { recursive: true });
  const fd = openSync(logFile, 'a');
  const child = spawn(cmd, args, {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: env ?? process.env,
    cwd,
    uid,
    gid,
  });
  closeSync(fd);
  child.unref();
  return child.pid;
}

/**
 * Alive and not a zombie. Daemons we start are re-parented to pid 1 once the
 * testbed script exits, and pid 1 here may be slow to reap them: an exited but
 * unreaped process must count as stopped.
 */
export function isAlive(pid) {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (err.code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    // No procfs: trust kill(0). With procfs, the process vanished meanwhile.
    return !existsSync('/proc/self');
  }
}

/** Stop a process we started, by pid: SIGTERM, wait, then SIGKILL. Never by name. */
export async function stopPid(pid, { timeoutMs = 15_000 } = {}) {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

export function readState() {
  if (!existsSync(STATE_FILE)) return {};
  try {
    return JSON.parse(readFileSync(STATE_FILE, 'utf8'));
  } catch {
    return {};
  }
}

/** Merge one component's state into state.json (written atomically). */
export function writeComponentState(component, value) {
  mkdirSync(TESTBED_DIR, { recursive: true });
  const state = readState();
  if (value === undefined) delete state[component];
  else state[component] = value;
  const tmp = `${STATE_FILE}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n');
  run('mv', ['-f', tmp, STATE_FILE]);
}

/** The pid written in a pid/lock file, or null. */
export function pidFromFile(file) {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function mtimeMs(file) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return null;
  }
}

/**
 * Run `fn` holding `<TESTBED_DIR>/.<component>.lock`. Two testbed runs at once
 * (several suites or engineers on one machine) would otherwise each wipe and
 * restart a component under the other. Exclusive create, never flock; a lock
 * left by a dead run is removed.
 */
export async function withComponentLock(component, fn, { timeoutMs = 300_000 } = {}) {
  const lockFile = join(TESTBED_DIR, `.${component}.lock`);
  mkdirSync(TESTBED_DIR, { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      writeFileSync(lockFile, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      const holder = pidFromFile(lockFile);
      if (holder === null && Date.now() - (mtimeMs(lockFile) ?? 0) < 2_000) {
        // Being written right now: wait.
      } else if (holder === null || !isAlive(holder)) {
        rmSync(lockFile, { force: true }); // left by a run that died
        continue;
      }
      if (Date.now() > deadline) throw new Error(`another testbed run (pid ${holder}) holds ${lockFile}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    if (pidFromFile(lockFile) === process.pid) rmSync(lockFile, { force: true });
  }
}
