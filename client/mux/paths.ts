/**
 * Where the SSH multiplexer of a target listens: `<local run dir>/mux/<key>.sock`,
 * key = the agent cache's key (user, host, port, jump chain, root, run dir).
 * Whoever can connect to that socket gets the agent's token and a channel
 * into the SSH connection, so it is guarded like OpenSSH's ControlPath: the
 * run dir and the mux dir must be real directories of ours that nobody else
 * can enter, and the socket is 0600.
 */
import { mkdirSync } from 'node:fs';
import { localRunDir } from '../local.js';
import { ownedPrivateDir } from '../local-trust.js';

export function muxDir(): string {
  return `${localRunDir({})}/mux`;
}

export function muxSocketPath(key: string): string {
  return `${muxDir()}/${key}.sock`;
}

/** A file beside the mux's socket: its start marker (.start), log (.log) or record (.json). */
export function muxFile(socketPath: string, ext: '.start' | '.log' | '.json'): string {
  return socketPath.replace(/\.sock$/, ext);
}

/** The mux dir, if it (and the run dir above it) can be trusted; null otherwise. */
export function trustedMuxDir(): string | null {
  const dir = muxDir();
  const parent = dir.slice(0, dir.lastIndexOf('/'));
  return ownedPrivateDir(parent) && ownedPrivateDir(dir) ? dir : null;
}

/** Make the mux dir (and the run dir) 0700 if missing; throws when what is there cannot be trusted. */
export function ensureMuxDir(): string {
  const dir = muxDir();
  const parent = dir.slice(0, dir.lastIndexOf('/'));
  for (const d of [parent, dir]) {
    try {
      mkdirSync(d, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  if (!trustedMuxDir()) throw new Error(`${dir} (or ${parent}) is not a directory of ours with mode 0700; remove it or fix its mode`);
  return dir;
}
