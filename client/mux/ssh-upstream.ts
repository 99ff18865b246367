/**
 * The mux's way to the agent: its own SSH session (authenticated without
 * prompts: it has no terminal), the agent found or started the usual way
 * (never installed from here: the command that spawned the mux has just
 * connected, so the agent is installed), and a fresh tunnel channel per
 * client. When a channel cannot be opened (the agent idled out or was
 * killed) or the client's token was refused (the agent was restarted), the
 * agent is looked up again over the same session, which restarts it.
 *
 * One stream-local channel is kept open ahead of need, so a command does not
 * wait a round trip for its channel: taken by the next client, then replaced;
 * one nobody took is replaced before it is SPARE_MAX_MS old (the agent's
 * HTTP server drops a connection that sends no request for a minute), so a
 * command minutes after the last one finds a fresh one too. It is not a
 * session for the agent (no upgrade yet), so it does not keep the agent from
 * idling out; when the agent exits it closes and is dropped, and no other is
 * opened until the next command.
 *
 * While commands come within SPARE_MAX_MS of each other (a script, a shell
 * loop), the spare is upgraded ahead too (ready-session.ts): the next
 * command then waits one more round trip less. Such a spare is an agent
 * session, so once commands stop it is replaced by a plain one, and the
 * agent idles out as before.
 */
import { agentBundle } from '../agent-bundle.js';
import { agentPlace, startRemoteAgent, type RemoteAgentInfo } from '../ssh/agent-start.js';
import { openSsh } from '../ssh/connect.js';
import type { RemoteOptions } from '../ssh/remote.js';
import { openTunnel, type Tunnel, type TunnelState } from '../ssh/tunnel.js';
import { upgradeAhead, type ReadySession } from './ready-session.js';
import type { MuxTunnel, MuxUpstream } from './server.js';

/** A spare channel older than this is closed instead of used; an unused one is replaced at 80% of it. */
export const SPARE_MAX_MS = 30_000;
/** How long the agent may take to answer an upgrade made ahead. */
const UPGRADE_MS = 10_000;

interface Spare {
  tunnel: Tunnel;
  /** Upgraded ahead (a burst of commands is under way). */
  ready: ReadySession | undefined;
  /** The agent it leads to (a restarted agent means a new socket and token). */
  info: RemoteAgentInfo;
  at: number;
  /** Drops it from `spare` when the agent closes it. */
  gone: () => void;
  /** Replaces it before it gets too old. */
  renew: NodeJS.Timeout;
}

export async function sshUpstream(target: string, opts: RemoteOptions, log?: (line: string) => void, spareMaxMs = SPARE_MAX_MS): Promise<MuxUpstream> {
  const ssh = await openSsh(target, opts);
  const build = agentBundle().build;
  const start = (): Promise<RemoteAgentInfo> => startRemoteAgent(ssh.client, { ...opts, install: 'never', allowWarm: true });
  let info: RemoteAgentInfo;
  try {
    info = await start();
  } catch (err) {
    ssh.close();
    throw err;
  }
  const state: TunnelState = {};
  let closed = false;
  let spare: Spare | null = null;
  let filling = false;
  /** When a command last took a channel (the spawning command has just run). */
  let lastUse = Date.now();

  const openChannel = async (to: RemoteAgentInfo): Promise<Tunnel> => {
    const place = { ...agentPlace(opts, build), root: to.root, runDir: to.runDir, socket: to.socket };
    const t = await openTunnel(ssh.client, place, state);
    if (t.streamLocalError) state.streamLocalRefused = true;
    return t;
  };
  const asMux = (t: Tunnel, to: RemoteAgentInfo, ready?: ReadySession): MuxTunnel => {
    const { token, pid, socket, runDir, root } = to;
    const m: MuxTunnel = { stream: t.stream, agent: { token, build: to.build, pid, socket, runDir, root, tunnel: t.kind } };
    if (ready) m.ready = ready;
    return m;
  };
  const drop = (s: Spare | null) => {
    if (!s) return;
    clearTimeout(s.renew);
    s.tunnel.stream.destroy();
  };
  const takeSpare = (): Spare | null => {
    const s = spare;
    spare = null;
    if (s && !s.tunnel.stream.destroyed && s.info === info && Date.now() - s.at < spareMaxMs && (!s.ready || s.ready.alive())) {
      clearTimeout(s.renew);
      return s;
    }
    drop(s);
    return null;
  };
  // Stream-local only: an exec bridge would keep a node process waiting on the login node.
  const refill = () => {
    if (filling || closed || spare || state.streamLocalRefused) return;
    filling = true;
    const to = info;
    const upgrade = Date.now() - lastUse < spareMaxMs;
    openChannel(to)
      .then(async (t) => {
        if (closed || t.kind !== 'stream-local' || to !== info) return void t.stream.destroy();
        let ready: ReadySession | undefined;
        if (upgrade) {
          try {
            ready = await upgradeAhead(t.stream, to.token, 'clustrix-cli', UPGRADE_MS);
          } catch (err) {
            t.stream.destroy();
            throw err;
          }
          if (closed || to !== info) return void t.stream.destroy();
        }
        const s: Spare = {
          tunnel: t,
          ready,
          info: to,
          at: Date.now(),
          gone: () => {
            clearTimeout(s.renew);
            if (spare === s) spare = null;
          },
          renew: setTimeout(() => {
            if (spare !== s) return;
            spare = null;
            drop(s);
            refill();
          }, spareMaxMs * 0.8).unref(),
        };
        t.stream.once('close', s.gone);
        t.stream.on('error', s.gone);
        spare = s;
      })
      .catch(() => {
        /* the next client opens its own, and says why if that fails too */
      })
      .finally(() => (filling = false));
  };
  const fresh = async (): Promise<MuxTunnel> => {
    const t = asMux(await openChannel(info), info);
    refill();
    return t;
  };
  refill(); // ready for the first command through the mux

  return {
    async open(refresh, plain) {
      lastUse = Date.now();
      if (refresh) {
        drop(takeSpare());
        info = await start();
        return fresh();
      }
      const s = plain ? null : takeSpare();
      if (s) {
        s.tunnel.stream.off('close', s.gone);
        s.tunnel.stream.off('error', s.gone);
        log?.(s.ready ? 'channel: spare, upgraded ahead' : 'channel: spare');
        refill();
        return asMux(s.tunnel, s.info, s.ready);
      }
      log?.('channel: opened');
      try {
        return await fresh();
      } catch {
        info = await start();
        return fresh();
      }
    },
    onLost(fn) {
      ssh.onClose((err) => fn(err?.message ?? 'closed'));
    },
    close() {
      closed = true;
      drop(takeSpare());
      ssh.close();
    },
  };
}
