/**
 * The byte stream to the agent's Unix socket, inside the SSH connection —
 * never a local TCP listener:
 *  1. `direct-streamlocal@openssh.com` to the socket (ssh -W /path);
 *  2. if the server refuses stream-local forwarding (OpenSSH: "open
 *     failed"), an exec channel running `agent.mjs bridge`, which relays
 *     stdio ↔ socket. Login shells print noise first, so the bridge prints a
 *     marker and everything up to it is dropped;
 *  3. if both are refused, a fast error saying so (no hang).
 */
import { Duplex } from 'node:stream';
import type { Client, ClientChannel } from 'ssh2';
import { ConnectionError } from '../errors.js';
import { promptAcks } from './ack-nudge.js';
import { coalesceWrites, mergeSmall } from './coalesce-writes.js';
import { execChannel } from './remote-exec.js';
import { bridgeScript, MARK, type AgentPlace } from './scripts.js';

export type TunnelKind = 'stream-local' | 'exec-bridge';

/** How long the bridge may take to print its marker (login shell startup included). */
const BRIDGE_READY_MS = 20_000;

export function openStreamLocal(ssh: Client, socket: string): Promise<ClientChannel> {
  return new Promise((resolve, reject) =>
    ssh.openssh_forwardOutStreamLocal(socket, (err, ch) => (err ? reject(err) : resolve(coalesceWrites(promptAcks(ch))))),
  );
}

/** A duplex over an exec channel that hides everything before the marker line (exported for tests). */
export class MarkedStream extends Duplex {
  readonly ready: Promise<void>;
  readonly #ch: ClientChannel;
  #pending: Buffer | null = Buffer.alloc(0);
  #ended = false;
  constructor(ch: ClientChannel, marker: string) {
    super();
    this.#ch = ch;
    const needle = Buffer.from(marker + '\n');
    let stderr = '';
    ch.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new ConnectionError('timeout', `the exec bridge did not come up within ${BRIDGE_READY_MS} ms`)), BRIDGE_READY_MS);
      ch.on('data', (d: Buffer) => {
        if (this.#pending === null) {
          if (!this.push(d)) ch.pause();
          return;
        }
        this.#pending = Buffer.concat([this.#pending, d]);
        const at = this.#pending.indexOf(needle);
        if (at < 0) {
          if (this.#pending.length > 1 << 20) this.#pending = this.#pending.subarray(-needle.length);
          return;
        }
        const rest = this.#pending.subarray(at + needle.length);
        this.#pending = null;
        clearTimeout(timer);
        resolve();
        if (rest.length) this.push(rest);
      });
      ch.on('close', (code?: number) => {
        clearTimeout(timer);
        if (this.#pending !== null) {
          reject(
            new ConnectionError(
              'tunnel',
              `the exec bridge exited before it was ready (exit ${code ?? '?'}): ${stderr.trim().split('\n').slice(-3).join(' / ') || 'no output'}`,
            ),
          );
        }
        this.#eof();
        this.destroy();
      });
    });
    ch.on('end', () => this.#eof());
  }
  #eof(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.push(null);
  }
  override _read(): void {
    this.#ch.resume();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.#ch.write(chunk, cb);
  }
  // Few SSH packets per corked burst (see coalesce-writes.ts).
  override _writev(chunks: { chunk: Buffer }[], cb: (e?: Error | null) => void): void {
    // The channel's own Writable queues them in order; the burst is done when its last piece is.
    const pieces = mergeSmall(chunks.map((c) => c.chunk));
    if (pieces.length === 0) return cb();
    pieces.forEach((p, i) => this.#ch.write(p, i === pieces.length - 1 ? cb : undefined));
  }
  override _final(cb: (e?: Error | null) => void): void {
    this.#ch.end();
    cb();
  }
  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.#ch.destroy();
    cb(err);
  }
}

export async function openExecBridge(ssh: Client, place: AgentPlace & { runDir: string }): Promise<Duplex> {
  const ch = promptAcks(await execChannel(ssh, bridgeScript(place)));
  const s = new MarkedStream(ch, MARK.bridge);
  await s.ready;
  return s;
}

export interface TunnelState {
  /** Set once the bridge worked where stream-local failed: later tunnels of this session go straight to the bridge. */
  streamLocalRefused?: boolean;
}

export interface Tunnel {
  stream: Duplex;
  kind: TunnelKind;
  /** Why stream-local was not used (when kind is exec-bridge). */
  streamLocalError?: string;
}

/**
 * Open the tunnel to the agent socket, preferring stream-local forwarding.
 * OpenSSH answers a refused forward and a dead socket the same way ("open
 * failed"), so any stream-local failure falls back to the bridge, and the
 * caller marks the session as refusing stream-local only once the bridge has
 * actually carried a handshake.
 */
export async function openTunnel(ssh: Client, place: AgentPlace & { runDir: string; socket: string }, state: TunnelState = {}): Promise<Tunnel> {
  let streamLocalError: string | undefined;
  if (!state.streamLocalRefused) {
    try {
      return { stream: await openStreamLocal(ssh, place.socket), kind: 'stream-local' };
    } catch (err) {
      streamLocalError = (err as Error).message;
    }
  }
  try {
    return { stream: await openExecBridge(ssh, place), kind: 'exec-bridge', streamLocalError };
  } catch (err) {
    const why = err instanceof ConnectionError ? err.message : (err as Error).message;
    throw new ConnectionError(
      'tunnel',
      streamLocalError
        ? `cannot reach the agent socket ${place.socket}: stream-local forwarding failed (${streamLocalError}; the server may refuse it: AllowStreamLocalForwarding no) and the exec-bridge fallback failed too (${why})`
        : `cannot reach the agent socket ${place.socket} through the exec bridge: ${why}`,
      { cause: err, details: { streamLocalError, bridgeError: why } },
    );
  }
}
