/**
 * Leave a mux behind after a direct connect: `clustrix mux serve <target>`,
 * detached, with no terminal (so it can only authenticate without prompts:
 * ssh-agent or unencrypted keys). A marker next to the socket keeps a shell
 * loop from starting one mux per command while the first is still
 * connecting, and from retrying for a while a target the mux could not reach
 * (a key that needs a passphrase, 2FA).
 */
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ensureMuxDir, muxFile } from './paths.js';

/** A mux still connecting after this long has failed without saying so. */
const STARTING_MS = 30_000;
/** After a failure, direct connects only, for this long. */
const FAILED_MS = 10 * 60_000;

export function markerPath(socketPath: string): string {
  return muxFile(socketPath, '.start');
}

/** The CLI bundle that runs `mux serve` (dist/cli.mjs beside dist/client.mjs; from source, dist/ is two levels up). */
function cliPath(): string | null {
  const tried = [
    process.env.CLUSTRIX_CLI,
    fileURLToPath(new URL('./cli.mjs', import.meta.url)),
    fileURLToPath(new URL('../../dist/cli.mjs', import.meta.url)),
  ].filter((p): p is string => Boolean(p));
  return tried.find((p) => existsSync(p)) ?? null;
}

/** True when a mux for this socket is starting, or failed recently. */
function held(socketPath: string): boolean {
  const m = markerState(socketPath);
  return m !== null && Date.now() - m.atMs < ('failed' in m ? FAILED_MS : STARTING_MS);
}

export interface SpawnMuxOptions {
  target: string;
  socketPath: string;
  idleMs: number;
  root?: string;
  runDir?: string;
  /** The ssh_config files the caller resolved the target with (the mux gets them as $CLUSTRIX_SSH_CONFIG). */
  configFiles?: string[];
}

/** Start a mux in the background unless one is starting or failed lately. Never throws: a mux is an optimisation. */
export function spawnMux(o: SpawnMuxOptions): boolean {
  try {
    const cli = cliPath();
    if (!cli) return false;
    ensureMuxDir();
    const marker = markerPath(o.socketPath);
    if (held(o.socketPath)) return false;
    try {
      unlinkSync(marker); // an old one: ours to replace
    } catch {
      /* none */
    }
    closeSync(openSync(marker, 'wx', 0o600)); // a racing command that got here first wins
    writeFileSync(marker, `starting ${process.pid}\n`);
    // The socket path travels as is: the mux must listen exactly where this caller will look.
    const args = [cli, 'mux', 'serve', o.target, '--idle-ms', String(o.idleMs), '--socket', o.socketPath];
    if (o.root) args.push('--root', o.root);
    if (o.runDir) args.push('--run-dir', o.runDir);
    const env = o.configFiles ? { ...process.env, CLUSTRIX_SSH_CONFIG: o.configFiles.join(':') || '/dev/null' } : process.env;
    spawn(process.execPath, args, { detached: true, stdio: 'ignore', env }).unref();
    return true;
  } catch {
    return false;
  }
}

/** The mux's side: listening (marker gone) or failed (marker says so, which holds spawning off). */
export function markStarted(socketPath: string): void {
  try {
    unlinkSync(markerPath(socketPath));
  } catch {
    /* gone */
  }
}

export function markFailed(socketPath: string, why: string): void {
  try {
    writeFileSync(markerPath(socketPath), `failed ${why.replace(/\s+/g, ' ').slice(0, 500)}\n`, { mode: 0o600 });
  } catch {
    /* nothing to do */
  }
}

/** What the marker says: a start in progress, or the reason the last mux could not connect; with when it was written. */
export function markerState(socketPath: string): { starting: true; atMs: number } | { failed: string; atMs: number } | null {
  try {
    const marker = markerPath(socketPath);
    const atMs = statSync(marker).mtimeMs;
    const text = readFileSync(marker, 'utf8');
    return text.startsWith('failed') ? { failed: text.slice('failed'.length).trim(), atMs } : { starting: true, atMs };
  } catch {
    return null;
  }
}
