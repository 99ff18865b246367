/**
 * The client side of the mux: reach the agent through a running mux of this
 * target (two local hops and one channel open, no SSH handshake), or connect
 * directly and leave a mux behind for the next command (spawn.ts).
 */
import { agentBundle } from '../agent-bundle.js';
import { Connection } from '../connection.js';
import { isFinalConnectFailure } from '../errors.js';
import { connectUnix } from '../local.js';
import type { RemoteOptions } from '../ssh/remote.js';
import { trustedMuxDir } from './paths.js';
import { MUX_WIRE_VERSION, parseReply, readLine, type MuxAgent } from './wire.js';

/** The mux answers at once, or after one remote exec when it has to find the agent again. */
const REPLY_MS = 30_000;

export interface MuxedConnection {
  conn: Connection;
  agent: MuxAgent;
}

/**
 * A connection to the agent through the mux listening at `socketPath`, or
 * null when there is none (or it cannot be trusted, or cannot reach the
 * agent): the caller then connects directly. A refused token (the agent was
 * restarted behind the mux's back) is retried once with `refresh`.
 */
export async function openViaMux(
  socketPath: string,
  opts: Pick<RemoteOptions, 'clientName' | 'timeoutMs' | 'signal' | 'bundle'>,
): Promise<MuxedConnection | null> {
  if (!trustedMuxDir()) return null;
  const build = (opts.bundle ?? agentBundle()).build;
  for (const refresh of [false, true]) {
    let sock;
    try {
      sock = await connectUnix(socketPath);
    } catch {
      return null; // no mux (or a stale socket file)
    }
    sock.write(JSON.stringify({ v: MUX_WIRE_VERSION, refresh }) + '\n');
    const line = await readLine(sock, REPLY_MS);
    const reply = line === null ? null : parseReply(line);
    if (!reply?.ok || !reply.agent) {
      sock.destroy();
      return null;
    }
    if (reply.agent.build !== build) {
      // A mux left by another clustrix version: it would keep putting its own agent build back
      // (replacing ours on every command). Stop it; the caller connects directly and leaves a new one.
      sock.destroy();
      await stopMux(socketPath);
      return null;
    }
    let conn: Connection;
    try {
      conn = await Connection.open(sock, { token: reply.agent.token, clientName: opts.clientName, timeoutMs: opts.timeoutMs, signal: opts.signal });
    } catch (err) {
      if (isFinalConnectFailure(err, opts.signal)) throw err;
      continue; // token refused or closed mid-handshake: the agent changed; ask the mux to look again
    }
    if (conn.welcome.build !== build) {
      await conn.close();
      return null;
    }
    return { conn, agent: reply.agent };
  }
  return null;
}

/** Ask the mux at `socketPath` to stop; false when none answered. */
export async function stopMux(socketPath: string): Promise<boolean> {
  let sock;
  try {
    sock = await connectUnix(socketPath);
  } catch {
    return false;
  }
  sock.write(JSON.stringify({ v: MUX_WIRE_VERSION, stop: true }) + '\n');
  const line = await readLine(sock, 5_000);
  sock.destroy();
  return line !== null && parseReply(line)?.ok === true;
}
