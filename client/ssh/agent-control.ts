/**
 * `status` and `stop` of the agent on an SSH host, without starting one:
 * run the installed `agent.mjs status|stop` (any installed build will do, so
 * an old agent can be stopped by a newer client). `stopAllAgents` also visits
 * the other login nodes listed in the registry on the shared root, reaching
 * them through the node we are connected to.
 */
import { agentBundle } from '../agent-bundle.js';
import { ConnectionError } from '../errors.js';
import { openSsh, type SshOptions, type SshSession } from './connect.js';
import { execScript, tail } from './remote-exec.js';
import { agentCommandScript, MARK } from './scripts.js';

export interface RegistryEntry {
  host: string;
  pid: number;
  build: string;
  socket: string;
  startedAt: number;
}

export interface RemoteStatus {
  installed: boolean;
  running: boolean;
  host?: string;
  pid?: number;
  build?: string;
  socket?: string;
  /** Agents recorded on the shared root, one per login node. */
  agents: RegistryEntry[];
}

export interface PlaceOptions {
  root?: string;
  runDir?: string;
  nodePath?: string;
  signal?: AbortSignal;
}

/** The last line of stdout that is a JSON object (login noise comes before it). */
export function lastJsonLine(stdout: string): Record<string, unknown> | null {
  const lines = stdout.trim().split(/\r?\n/).reverse();
  for (const l of lines) {
    if (!l.startsWith('{')) continue;
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      /* noise that happens to start with { */
    }
  }
  return null;
}

async function runAgentCommand(ssh: SshSession, command: 'status' | 'stop', o: PlaceOptions): Promise<Record<string, unknown> | null> {
  const place = { root: o.root, runDir: o.runDir, nodePath: o.nodePath, build: agentBundle().build };
  const r = await execScript(ssh.client, agentCommandScript(place, command), { signal: o.signal });
  if (r.stdout.includes(MARK.needInstall)) return null;
  const j = lastJsonLine(r.stdout);
  if (!j) throw new ConnectionError('handshake', `agent ${command} failed on the cluster (exit ${r.code}): ${tail(r.stderr || r.stdout)}`);
  return j;
}

export async function remoteAgentStatus(ssh: SshSession, o: PlaceOptions = {}): Promise<RemoteStatus> {
  const j = await runAgentCommand(ssh, 'status', o);
  if (!j) return { installed: false, running: false, agents: [] };
  const s: RemoteStatus = { installed: true, running: j.running === true, agents: Array.isArray(j.agents) ? (j.agents as RegistryEntry[]) : [] };
  if (typeof j.host === 'string') s.host = j.host;
  if (typeof j.pid === 'number') s.pid = j.pid;
  if (typeof j.build === 'string') s.build = j.build;
  if (typeof j.socket === 'string') s.socket = j.socket;
  return s;
}

export interface StopResult {
  host: string;
  stopped: boolean;
  pid?: number;
  error?: string;
}

export async function remoteAgentStop(ssh: SshSession, o: PlaceOptions = {}): Promise<StopResult> {
  const j = await runAgentCommand(ssh, 'stop', o);
  if (!j) return { host: ssh.host.hostname, stopped: false, error: 'clustrix is not installed there' };
  return { host: typeof j.host === 'string' ? j.host : ssh.host.hostname, stopped: j.stopped === true, ...(typeof j.pid === 'number' ? { pid: j.pid } : {}) };
}

/**
 * Stop the agent of this node and of every other node in the registry.
 * Other nodes are reached by SSH through this one (same user and port; their
 * host keys are verified like any other).
 */
export async function stopAllAgents(ssh: SshSession, o: PlaceOptions & SshOptions = {}): Promise<StopResult[]> {
  const st = await remoteAgentStatus(ssh, o);
  const here = await remoteAgentStop(ssh, o);
  const results = [here];
  const thisHost = st.host ?? here.host;
  for (const e of st.agents) {
    if (e.host === thisHost) continue;
    const hop = { ...ssh.host, alias: e.host, hostname: e.host, jumps: [...ssh.host.jumps, { ...ssh.host, jumps: [] }], proxyCommand: null };
    let other: SshSession | null = null;
    try {
      other = await openSsh(hop, o);
      results.push(await remoteAgentStop(other, o));
    } catch (err) {
      results.push({ host: e.host, stopped: false, error: (err as Error).message });
    } finally {
      other?.close();
    }
  }
  return results;
}
