/** One line about a host's persistent connection, for `clustrix doctor`. */
import { listMuxRecords } from './registry.js';
import { markerState } from './spawn.js';

export interface MuxStatusLine {
  detail: string;
  hint?: string;
}

export function describeMux(socketPath: string, persistMs: number): MuxStatusLine {
  const rec = listMuxRecords().find((r) => r.socket === socketPath);
  if (rec) {
    return {
      detail: `running: pid ${rec.pid}, up ${Math.round((Date.now() - rec.startedAt) / 1000)} s, exits after ${Math.round(rec.idleMs / 1000)} s idle; commands skip the SSH handshake`,
    };
  }
  const m = markerState(socketPath);
  if (m && 'failed' in m) {
    return {
      detail: `the last one could not connect ${Math.round((Date.now() - m.atMs) / 1000)} s ago: ${m.failed}`,
      hint: 'it authenticates without prompts (ssh-agent or a key without passphrase); load the key with ssh-add, then it starts with the next command (after 10 min)',
    };
  }
  if (m) return { detail: 'starting (left by the last command)' };
  if (persistMs === 0) return { detail: 'off (CLUSTRIX_PERSIST_MS=0)' };
  return { detail: `none running; the next command leaves one for ${Math.round(persistMs / 1000)} s` };
}
