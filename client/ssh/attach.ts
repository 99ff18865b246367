/**
 * Attach to the agent over an SSH session: find or start it (installing if
 * needed), open the tunnel, say hello. With a cached socket and token from
 * an earlier connect, first try the tunnel and hello directly — one round
 * trip instead of a remote exec — and fall back to the full path on any
 * failure.
 */
import { agentBundle } from '../agent-bundle.js';
import { Connection } from '../connection.js';
import { ConnectionError } from '../errors.js';
import { nudgeAcks } from './ack-nudge.js';
import { cacheKey, dropCachedAgent, readCachedAgent, writeCachedAgent } from './agent-cache.js';
import { agentPlace, startRemoteAgent, type RemoteAgentInfo } from './agent-start.js';
import type { SshSession } from './connect.js';
import { PhaseClock, type Phase } from './phases.js';
import type { RemoteOptions } from './remote.js';
import { openStreamLocal, openTunnel, type TunnelKind, type TunnelState } from './tunnel.js';

/** The cached path gives up quickly: the full path is the fallback. */
const CACHED_HELLO_MS = 5_000;

export interface Attached {
  conn: Connection;
  info: RemoteAgentInfo;
  tunnel: TunnelKind;
  agentMs: number;
  tunnelMs: number;
  helloMs: number;
  /** Every phase of this attach, failed attempts included (see RemoteTimings.phases). */
  phases: Phase[];
}

/** Try the cached socket and token: stream-local + hello, checked against our build. */
async function attachCached(ssh: SshSession, opts: RemoteOptions, key: string, build: string, clock: PhaseClock): Promise<Attached | null> {
  const c = readCachedAgent(key);
  if (!c || c.build !== build) return null;
  const t0 = performance.now();
  try {
    const stream = await openStreamLocal(ssh.client, c.socket);
    clock.mark('tunnel (cached socket)');
    const t1 = performance.now();
    const conn = await Connection.open(stream, {
      token: c.token,
      clientName: opts.clientName,
      timeoutMs: Math.min(opts.timeoutMs ?? CACHED_HELLO_MS, CACHED_HELLO_MS),
      signal: opts.signal,
    });
    if (conn.welcome.build !== build) {
      await conn.close('not the build we expected');
      throw new Error('stale');
    }
    const info: RemoteAgentInfo = {
      socket: c.socket,
      token: c.token,
      pid: conn.welcome.pid,
      build,
      runDir: c.runDir,
      root: c.root,
      how: 'cached',
      host: conn.welcome.host,
    };
    clock.mark('hello');
    return { conn, info, tunnel: 'stream-local', agentMs: 0, tunnelMs: t1 - t0, helloMs: performance.now() - t1, phases: clock.phases };
  } catch {
    if (opts.signal?.aborted) throw new ConnectionError('closed', 'connect aborted', { cause: opts.signal.reason });
    clock.mark('cached agent gone');
    dropCachedAgent(key);
    return null;
  }
}

/** Start/find the agent over `ssh` and open a protocol connection to it. */
export function attach(ssh: SshSession, opts: RemoteOptions, state: TunnelState): Promise<Attached> {
  return nudgeAcks(ssh.client, attachInner(ssh, opts, state));
}

async function attachInner(ssh: SshSession, opts: RemoteOptions, state: TunnelState): Promise<Attached> {
  const build = (opts.bundle ?? agentBundle()).build;
  const key = opts.agentCache === false ? null : cacheKey(ssh.host, opts.root, opts.runDir);
  const clock = new PhaseClock();
  // Stream-local only: behind a bridge-only server the exec is needed anyway.
  if (key && !state.streamLocalRefused) {
    const cached = await attachCached(ssh, opts, key, build, clock);
    if (cached) return cached;
  }
  let allowWarm = true;
  for (let attempt = 0; ; attempt++) {
    const t0 = performance.now();
    const info = await startRemoteAgent(ssh.client, { ...opts, allowWarm }, clock);
    const t1 = performance.now();
    try {
      const place = { ...agentPlace(opts, build), root: info.root, runDir: info.runDir, socket: info.socket };
      const tunnel = await openTunnel(ssh.client, place, state);
      clock.mark(tunnel.kind === 'stream-local' ? 'tunnel' : 'tunnel (exec bridge)');
      const t2 = performance.now();
      const conn = await Connection.open(tunnel.stream, { token: info.token, clientName: opts.clientName, timeoutMs: opts.timeoutMs, signal: opts.signal });
      clock.mark('hello');
      // The bridge reached the agent where stream-local did not: the server refuses stream-local.
      if (tunnel.streamLocalError) state.streamLocalRefused = true;
      if (key && tunnel.kind === 'stream-local')
        writeCachedAgent(key, { socket: info.socket, token: info.token, build, runDir: info.runDir, root: info.root, pid: info.pid });
      return { conn, info, tunnel: tunnel.kind, agentMs: t1 - t0, tunnelMs: t2 - t1, helloMs: performance.now() - t2, phases: clock.phases };
    } catch (err) {
      clock.mark('tunnel or hello failed');
      // The agent can exit (idle, killed) between the check and the connect: start it for real, once.
      const retriable = err instanceof ConnectionError && (err.kind === 'tunnel' || err.kind === 'handshake') && !opts.signal?.aborted;
      if (attempt > 0 || !retriable) throw err;
      allowWarm = false;
    }
  }
}
