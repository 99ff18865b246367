/**
 * `connect(target, { persistMs })`: through the target's mux when one runs;
 * otherwise directly, leaving a mux behind for `persistMs` of idleness —
 * unless connecting needed a prompt (passphrase, 2FA), which a mux without a
 * terminal could not answer. Calls survive the mux or the agent going away
 * between them like a direct connection's do (ReconnectingConnection).
 */
import type { Connection } from '../connection.js';
import { cacheKey } from '../ssh/agent-cache.js';
import { ReconnectingConnection } from '../ssh/reconnect.js';
import { openRemote, type RemoteHandle, type RemoteOptions } from '../ssh/remote.js';
import { resolveHost } from '../ssh/resolve.js';
import { openViaMux } from './client.js';
import { muxSocketPath } from './paths.js';
import { spawnMux } from './spawn.js';

export interface Persistent {
  conn: Connection;
  close(): Promise<void>;
}

/** Wrap the prompt callbacks so we know whether any was called. */
function watchPrompts(opts: RemoteOptions): { opts: RemoteOptions; prompted: () => boolean } {
  let asked = false;
  const o = { ...opts };
  for (const k of ['passphrase', 'keyboardInteractive', 'password'] as const) {
    const f = opts[k] as ((...a: never[]) => unknown) | undefined;
    if (f) (o as Record<string, unknown>)[k] = (...a: never[]) => ((asked = true), f(...a));
  }
  return { opts: o, prompted: () => asked };
}

export async function openPersistent(target: string, opts: RemoteOptions & { persistMs: number }): Promise<Persistent> {
  const socketPath = muxSocketPath(cacheKey(resolveHost(target, opts.configFiles), opts.root, opts.runDir));
  // The direct connection, when one was needed (first, or after the mux went away).
  const held: { remote: RemoteHandle | null } = { remote: null };
  const direct = async (): Promise<Connection> => {
    const w = watchPrompts(opts);
    const remote = (held.remote = await openRemote(target, w.opts));
    if (!w.prompted()) spawnMux({ target, socketPath, idleMs: opts.persistMs, root: opts.root, runDir: opts.runDir, configFiles: opts.configFiles });
    return remote.conn;
  };
  const viaMux = async () => (await openViaMux(socketPath, opts))?.conn ?? null;
  const first = await viaMux();
  if (!first) {
    const conn = await direct();
    return { conn, close: () => held.remote!.close() };
  }
  // Through the mux: a lost link reconnects through it again, or directly when it is gone.
  const rc = new ReconnectingConnection(first, { reopen: async () => (await viaMux()) ?? held.remote?.conn ?? direct() });
  return {
    conn: rc.asConnection(),
    async close() {
      await rc.close();
      await held.remote?.close();
    },
  };
}
