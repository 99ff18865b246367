/**
 * `agent.mjs serve`: the long-running agent. Normally started (detached) by
 * `start`, which waits for the readiness line this writes on fd 3.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { DEFAULT_LIMITS, type AgentReady, agentInfo, agentPing, agentShutdown, PROTOCOL_VERSION } from '../protocol/index.js';
import { ownBuild } from './build-info.js';
import { registerFsHandlers } from './fs/index.js';
import { registerStorageHandlers } from './storage/index.js';
import { resolvePlacement } from './storage/placement.js';
import { registerEnvHandlers } from './envs/index.js';
import { registerJobHandlers } from './jobs/index.js';
import { registerFunctionHandlers } from './functions/index.js';
import { acquireLock, releaseLock } from './lock.js';
import { createLogger } from './log.js';
import type { AgentOptions } from './options.js';
import { Registry } from './registry.js';
import { ensureRunDir } from './rundir.js';
import { AgentServer } from './server.js';
import { removeRegistryEntry, writeRegistryEntry } from './host-registry.js';
import { pruneOldBuilds } from './prune-builds.js';

/** What serve reports on its readiness fd (and start prints after the magic prefix). */
export type ReadyInfo = AgentReady;

export type ReadyMessage = { ok: true; info: ReadyInfo } | { ok: false; locked?: number; error: string };

function report(fd: number | null, msg: ReadyMessage): void {
  if (fd === null) return;
  try {
    writeSync(fd, JSON.stringify(msg) + '\n');
    closeSync(fd);
  } catch {
    /* starter went away */
  }
}

/** Returns true once listening (the process then lives on), false if it did not start. */
export async function serve(opts: AgentOptions, readyFd: number | null): Promise<boolean> {
  const build = ownBuild();
  let paths;
  try {
    paths = ensureRunDir(opts.runDir);
  } catch (err) {
    report(readyFd, { ok: false, error: (err as Error).message });
    process.exitCode = 1;
    return false;
  }
  const lock = acquireLock(paths.lock, { pid: process.pid, startedAt: Date.now(), build });
  if (!lock.acquired) {
    const who = lock.holder.pid ? `another agent (pid ${lock.holder.pid}) holds` : `another agent is starting and holds`;
    report(readyFd, { ok: false, locked: lock.holder.pid, error: `${who} ${paths.lock}` });
    return false;
  }

  const logFile = join(opts.root, 'logs', `agent-${opts.host}.log`);
  mkdirSync(join(opts.root, 'logs'), { recursive: true, mode: 0o700 });
  const log = createLogger(logFile, opts.logLevel);
  const startedAt = Date.now();

  // Stale socket from a crashed agent: we hold the lock, so it is not anyone's.
  try {
    unlinkSync(paths.socket);
  } catch {
    /* none */
  }
  const token = randomBytes(32).toString('hex');
  const tmpToken = `${paths.token}.${process.pid}`;
  writeFileSync(tmpToken, token, { mode: 0o600 });
  renameSync(tmpToken, paths.token);

  const registry = new Registry();
  let server: AgentServer | null = null;
  let stopping = false;
  const shutdown = async (why: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, 'agent stopping');
    await server?.close();
    removeRegistryEntry(opts.root, opts.host, process.pid);
    try {
      unlinkSync(paths.token);
    } catch {
      /* gone */
    }
    releaseLock(paths.lock);
    log.flush?.();
    setTimeout(() => process.exit(0), 50).unref();
  };

  // Where job dirs, environments and bundles live: under the root unless a storage
  // verification found the root invisible to compute nodes (agent/storage/placement.ts).
  const placement = resolvePlacement(opts.root);
  log.info({ placement }, 'job files placement');

  registerFsHandlers(registry, { home: userInfo().homedir });
  registerEnvHandlers(registry, { root: opts.root, envsDir: placement.envs, home: userInfo().homedir, host: opts.host, pid: process.pid });
  registry.unary(agentPing, () => ({ now: Date.now() }));
  registry.unary(agentShutdown, () => {
    setImmediate(() => void shutdown('shutdown requested by a client'));
    return { stopping: true as const };
  });
  registry.unary(agentInfo, () => ({
    protocol: PROTOCOL_VERSION,
    build,
    pid: process.pid,
    host: opts.host,
    user: userInfo().username,
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    startedAt,
    uptimeMs: Date.now() - startedAt,
    connections: server?.sessions.size ?? 0,
    inFlight: server?.inFlight ?? 0,
    rssBytes: process.memoryUsage.rss(),
    runDir: paths.dir,
    root: opts.root,
    idleExitMs: opts.idleExitMs,
    logFile,
  }));

  server = new AgentServer({
    socketPath: paths.socket,
    registry,
    limits: DEFAULT_LIMITS,
    token,
    build,
    host: opts.host,
    log,
    idleExitMs: opts.idleExitMs,
    onIdle: () => void shutdown(`idle for ${opts.idleExitMs} ms`),
  });
  // The jobs service keeps its job dirs in <its root>/jobs.
  const jobs = registerJobHandlers(registry, { root: dirname(placement.jobs), envsDir: placement.envs, log, server });
  registerFunctionHandlers(registry, { jobs, bundlesDir: placement.bundles, node: process.execPath });
  registerStorageHandlers(registry, { root: opts.root, home: userInfo().homedir, host: opts.host, jobs, inUse: placement });
  try {
    await server.listen();
  } catch (err) {
    report(readyFd, { ok: false, error: `cannot listen on ${paths.socket}: ${(err as Error).message}` });
    releaseLock(paths.lock);
    process.exitCode = 1;
    return false;
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGHUP', () => {
    /* the ssh session that started us is gone: keep serving */
  });
  process.on('uncaughtException', (err) => {
    log.fatal({ err: err.stack }, 'uncaught exception');
    void shutdown('uncaught exception');
  });
  process.on('unhandledRejection', (err) => {
    log.error({ err: (err as Error)?.stack ?? String(err) }, 'unhandled rejection');
  });

  const info: ReadyInfo = {
    socket: paths.socket,
    protocol: PROTOCOL_VERSION,
    build,
    pid: process.pid,
    token,
    runDir: paths.dir,
    root: opts.root,
    host: opts.host,
    node: process.version,
    logFile,
  };
  writeRegistryEntry(opts.root, opts.host, { host: opts.host, pid: process.pid, build, socket: paths.socket, startedAt });
  const pruned = pruneOldBuilds(opts.root, build);
  if (pruned.length) log.info({ pruned }, 'removed old agent builds');
  log.info({ socket: paths.socket, build, idleExitMs: opts.idleExitMs }, 'agent listening');
  report(readyFd, { ok: true, info });
  return true;
}
