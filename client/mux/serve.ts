/** `clustrix mux serve <target>`: the mux process itself (spawned detached by spawn.ts). */
import { appendFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { cacheKey } from '../ssh/agent-cache.js';
import { withSshDefaults } from '../ssh/defaults.js';
import { resolveHost } from '../ssh/resolve.js';
import { ensureMuxDir, muxFile, muxSocketPath } from './paths.js';
import { removeMuxRecord, writeMuxRecord } from './registry.js';
import { MuxServer } from './server.js';
import { markFailed, markStarted } from './spawn.js';
import { sshUpstream } from './ssh-upstream.js';

export interface MuxServeOptions {
  target: string;
  idleMs: number;
  root?: string;
  runDir?: string;
  /** Where to listen (what the spawning command computed); default: from the target, root and run dir. Must be in the mux dir. */
  socket?: string;
}

/** Run until idle, SSH lost or stopped; resolves with why. Throws (after marking the failure) when it cannot start. */
export async function serveMux(o: MuxServeOptions): Promise<string> {
  const dir = ensureMuxDir();
  const socket = o.socket ?? muxSocketPath(cacheKey(resolveHost(o.target), o.root, o.runDir));
  if (dirname(socket) !== dir || !socket.endsWith('.sock')) throw new Error(`--socket must be a .sock file in ${dir}, got ${socket}`);
  const logFile = muxFile(socket, '.log');
  const log = (line: string) => {
    try {
      appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`, { mode: 0o600 });
    } catch {
      /* no log is no reason to stop */
    }
  };
  let up;
  try {
    // CLUSTRIX_MUX_SPARE_MS: how long a spare channel may wait (tests shorten it).
    const spareMs = Number(process.env.CLUSTRIX_MUX_SPARE_MS);
    up = await sshUpstream(
      o.target,
      withSshDefaults({ root: o.root, runDir: o.runDir, clientName: 'clustrix-mux' }),
      log,
      Number.isFinite(spareMs) && spareMs > 0 ? spareMs : undefined,
    );
  } catch (err) {
    log(`cannot connect: ${(err as Error).message}`);
    markFailed(socket, (err as Error).message);
    throw err;
  }
  const server = new MuxServer(up, { socketPath: socket, idleMs: o.idleMs, log });
  try {
    await server.listen();
  } catch (err) {
    // Another mux for this target got there first: it serves; we go.
    up.close();
    markStarted(socket);
    return `another mux listens: ${(err as Error).message}`;
  }
  markStarted(socket);
  writeMuxRecord({ target: o.target, pid: process.pid, socket, idleMs: o.idleMs, startedAt: Date.now(), root: o.root, runDir: o.runDir });
  log(`mux for ${o.target} listening on ${socket} (idle exit ${o.idleMs} ms)`);
  const stop = () => server.close('SIGTERM');
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const why = await server.done;
  removeMuxRecord(socket);
  log(`mux exited: ${why}`);
  return why;
}
