/**
 * The mux's way to the agent: its own SSH session (authenticated without
 * prompts: it has no terminal), the agent found or started the usual way
 * (never installed from here: the command that spawned the mux has just
 * connected, so the agent is installed), and a fresh tunnel channel per
 * client. When a channel cannot be opened (the agent idled out or was
 * killed) or the client's token was refused (the agent was restarted), the
 * agent is looked up again over the same session, which restarts it.
 */
import { agentBundle } from '../agent-bundle.js';
import { agentPlace, startRemoteAgent, type RemoteAgentInfo } from '../ssh/agent-start.js';
import { openSsh } from '../ssh/connect.js';
import type { RemoteOptions } from '../ssh/remote.js';
import { openTunnel, type TunnelState } from '../ssh/tunnel.js';
import type { MuxTunnel, MuxUpstream } from './server.js';

export async function sshUpstream(target: string, opts: RemoteOptions): Promise<MuxUpstream> {
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
  const tunnel = async (): Promise<MuxTunnel> => {
    const place = { ...agentPlace(opts, build), root: info.root, runDir: info.runDir, socket: info.socket };
    const t = await openTunnel(ssh.client, place, state);
    if (t.streamLocalError) state.streamLocalRefused = true;
    const { token, pid, socket, runDir, root } = info;
    return { stream: t.stream, agent: { token, build: info.build, pid, socket, runDir, root, tunnel: t.kind } };
  };
  return {
    async open(refresh) {
      if (refresh) info = await start();
      try {
        return await tunnel();
      } catch (err) {
        if (refresh) throw err;
        info = await start();
        return tunnel();
      }
    },
    onLost(fn) {
      ssh.onClose((err) => fn(err?.message ?? 'closed'));
    },
    close() {
      ssh.close();
    },
  };
}
