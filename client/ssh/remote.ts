/**
 * `openRemote(target)`: SSH in, make sure our agent build is installed and
 * running, tunnel to its socket, say hello. The returned connection
 * reconnects (restarting the agent, and SSH if needed) when the agent went
 * away between calls.
 */
import type { Connection } from '../connection.js';
import type { RemoteAgentInfo, StartOptions } from './agent-start.js';
import { attach, type Attached } from './attach.js';
import { openSsh, type SshOptions, type SshSession } from './connect.js';
import type { Phase } from './phases.js';
import { ReconnectingConnection } from './reconnect.js';
import type { TunnelKind, TunnelState } from './tunnel.js';

export interface RemoteOptions extends SshOptions, StartOptions {
  /** Shown in agent logs. */
  clientName?: string;
  /** Milliseconds for the WebSocket upgrade and hello. Default 20 s. */
  timeoutMs?: number;
  /** Use this SSH session instead of opening one (the caller keeps owning it: close() leaves it open). */
  session?: SshSession;
  /** Remember the agent's socket and token on this machine to skip the remote exec next time (see agent-cache.ts). Default true. */
  agentCache?: boolean;
}

export interface RemoteTimings {
  /** TCP + SSH handshake + auth, whole ProxyJump chain; 0 when `session` was passed in (not part of this connect). */
  sshMs: number;
  /** Finding/starting (and maybe installing) the agent. */
  agentMs: number;
  /** Opening the tunnel channel. */
  tunnelMs: number;
  /** WebSocket upgrade + hello/welcome. */
  helloMs: number;
  totalMs: number;
  /**
   * The same connect phase by phase, in order: SSH ('tcp', 'kex', 'auth'; per
   * hop of a ProxyJump chain), then the agent: 'tunnel (cached socket)' and
   * 'hello' when the client-side cache worked; otherwise ['cached agent gone']
   * 'exec open', 'agent script', ['install'], 'tunnel' or 'tunnel (exec
   * bridge)', 'hello'. Empty for SSH when `session` was passed in.
   */
  phases: Phase[];
}

export interface RemoteHandle {
  /** Protocol connection (reconnecting; see reconnect.ts). */
  conn: Connection;
  info: RemoteAgentInfo;
  /** The SSH session in use now (replaced if SSH had to be re-opened). */
  readonly ssh: SshSession;
  readonly tunnel: TunnelKind;
  timings: RemoteTimings;
  /** Close the protocol connection and SSH. Idempotent. */
  close(): Promise<void>;
}

export async function openRemote(target: string, opts: RemoteOptions = {}): Promise<RemoteHandle> {
  const t0 = performance.now();
  const ownSsh = !opts.session;
  let ssh = opts.session ?? (await openSsh(target, opts));
  const state: TunnelState = {};
  let first: Attached;
  try {
    first = await attach(ssh, opts, state);
  } catch (err) {
    if (ownSsh) ssh.close();
    throw err;
  }
  let closed = false;
  let tunnel = first.tunnel;
  const handle: RemoteHandle = {
    conn: undefined as unknown as Connection,
    info: first.info,
    get ssh() {
      return ssh;
    },
    get tunnel() {
      return tunnel;
    },
    timings: {
      sshMs: ownSsh ? ssh.handshakeMs : 0,
      agentMs: first.agentMs,
      tunnelMs: first.tunnelMs,
      helloMs: first.helloMs,
      totalMs: performance.now() - t0,
      phases: [...(ownSsh ? ssh.phases : []), ...first.phases],
    },
    async close() {
      if (closed) return;
      closed = true;
      await rc.close();
      if (ownSsh || ssh !== opts.session) ssh.close();
    },
  };
  const rc = new ReconnectingConnection(first.conn, {
    reopen: async () => {
      if (ssh.lostError || ssh.closed) {
        if (ssh !== opts.session) ssh.close();
        ssh = await openSsh(target, { ...opts, signal: undefined });
      }
      const a = await attach(ssh, { ...opts, signal: undefined }, state);
      handle.info = a.info;
      tunnel = a.tunnel;
      return a.conn;
    },
    explain: () => ssh.lostError,
  });
  handle.conn = rc.asConnection();
  return handle;
}
