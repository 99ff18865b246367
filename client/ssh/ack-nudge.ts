/**
 * Work around a ~40 ms stall between OpenSSH's Nagle and our delayed ACKs.
 *
 * sshd leaves Nagle on for non-tty sessions. Right after authentication it
 * sends a burst of small packets (hostkeys, DEBUG lines about key options);
 * any small answer it sends next (CHANNEL_OPEN_CONFIRMATION, the agent's
 * WebSocket upgrade reply…) then waits until that burst is ACKed, and the
 * client kernel delays the ACK (~40 ms on Linux) because it has nothing to
 * send. Measured on loopback: the first channel open after auth took 43 ms
 * instead of 1 ms, then the hello stalled the same way.
 *
 * Any packet from us carries the ACK. While the connect is in progress we
 * send an SSH keepalive (`keepalive@openssh.com`, exactly what ssh2's own
 * keepaliveInterval and OpenSSH's ServerAliveInterval send; sshd answers it
 * silently) every few milliseconds. It uses ssh2's internal reply queue the
 * same way ssh2's keepalive does; if that internal shape is missing (another
 * ssh2 version), we do nothing and only lose the optimisation.
 */
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Client } from 'ssh2';

const INTERVAL_MS = 3;
/** Milliseconds after tunnel data arrives with nothing sent back before a keepalive carries our ACK. */
const PROMPT_ACK_MS = 2;
/** Upper bound on pings per nudged operation (≈ 1 s of nudging). */
const MAX_PINGS = 300;

interface Ssh2Internals {
  _callbacks?: unknown;
  _protocol?: { ping?: () => void };
  _sock?: { writable?: boolean };
}

function pinger(ssh: Client): (() => boolean) | null {
  const c = ssh as unknown as Ssh2Internals;
  if (!Array.isArray(c._callbacks) || typeof c._protocol?.ping !== 'function') return null;
  return () => {
    if (!c._sock?.writable || !Array.isArray(c._callbacks)) return false;
    // The reply (REQUEST_FAILURE) consumes one queued callback: queue a no-op, as ssh2 does.
    c._callbacks.push(() => {});
    c._protocol!.ping!();
    return true;
  };
}

/** Keep ACKs flowing to sshd until `pending` settles. */
export function nudgeAcks<T>(ssh: Client, pending: Promise<T>): Promise<T> {
  const ping = pinger(ssh);
  if (!ping) return pending;
  let sent = 0;
  const timer = setInterval(() => {
    if (++sent > MAX_PINGS || !ping()) clearInterval(timer);
  }, INTERVAL_MS);
  const stop = () => clearInterval(timer);
  pending.then(stop, stop);
  return pending;
}

/**
 * ssh2's own "give the sender its window back" (Channel.js windowAdjust),
 * null if this ssh2 has no such export (then promptAcks does nothing).
 * Looked up on first use, like ssh2 itself (ssh2-module.ts).
 */
let windowAdjustFn: ((ch: unknown) => void) | null | undefined;
function windowAdjust(): ((ch: unknown) => void) | null {
  if (windowAdjustFn !== undefined) return windowAdjustFn;
  try {
    const m = createRequire(import.meta.url)('ssh2/lib/Channel.js') as { windowAdjust?: unknown };
    windowAdjustFn = typeof m.windowAdjust === 'function' ? (m.windowAdjust as (ch: unknown) => void) : null;
  } catch {
    windowAdjustFn = null;
  }
  return windowAdjustFn;
}

/**
 * The same stall after connect, for the life of a tunnel channel: sshd's
 * Nagle holds a small packet until our ACK of the one before, and our
 * kernel delays that ACK (~40 ms) while we have nothing to send. Two ways
 * it bit: a streamed find that arrived after a pause stalled 40 ms at a
 * time (the tail of each burst sshd relays), and about one stat in a
 * thousand did (sshd returns the channel window with a small
 * CHANNEL_WINDOW_ADJUST right after it reads a request; the agent's answer
 * comes ~150 µs later and waits behind it). So whenever anything arrives
 * from sshd and we write nothing within PROMPT_ACK_MS, we return the
 * channel's window at once (what ssh2 does anyway once half of it is used):
 * a CHANNEL_WINDOW_ADJUST, which sshd does not answer — an answer would be
 * one more small packet held by Nagle (a keepalive's reply was) — and whose
 * TCP segment carries the ACK.
 *
 * On a TCP connection we watch the socket itself (every packet from sshd,
 * data or not; anything we write carries the ACK). Through a ProxyJump hop
 * the "socket" is another channel, so we watch this channel's data and
 * writes instead. Skipped while the reader is behind (ssh2 then holds the
 * window back on purpose). A request/response exchange (the next request
 * leaves at once) sends none. Hooks are read-only listeners or wrap the
 * channel's push and _write, so its flow mode is left alone.
 */
export function promptAcks<T extends Duplex>(ch: T): T {
  const adjust = windowAdjust();
  if (!adjust) return ch;
  const c = ch as unknown as { push: Duplex['push']; _write: (...a: unknown[]) => unknown; _client?: { _sock?: unknown } };
  const sock = c._client?._sock;
  if (sock instanceof Socket) {
    const arrived = ackAfterSilence(ch, adjust, () => sock.bytesWritten);
    sock.on('data', arrived);
    ch.once('close', () => sock.off('data', arrived));
    return ch;
  }
  let writes = 0;
  const arrived = ackAfterSilence(ch, adjust, () => writes);
  const write = c._write;
  c._write = function (this: unknown, ...a: unknown[]) {
    writes++;
    return write.apply(this, a);
  };
  const push = c.push;
  c.push = function (this: Duplex, chunk: unknown, encoding?: BufferEncoding) {
    if (chunk !== null) arrived();
    return push.call(this, chunk, encoding);
  };
  return ch;
}

/**
 * The check itself: call the returned function whenever something arrives;
 * PROMPT_ACK_MS later, if `sent()` has not moved since the latest arrival
 * (nothing of ours carried the ACK), the channel's window is returned.
 */
function ackAfterSilence(ch: Duplex, adjust: (ch: unknown) => void, sent: () => number): () => void {
  const c = ch as unknown as { _waitChanDrain?: boolean };
  let mark = 0;
  let timer: NodeJS.Timeout | null = null;
  const check = () => {
    timer = null;
    if (sent() !== mark || c._waitChanDrain || ch.destroyed) return;
    adjust(ch);
  };
  ch.once('close', () => timer && clearTimeout(timer));
  return () => {
    mark = sent();
    if (!timer) (timer = setTimeout(check, PROMPT_ACK_MS)).unref();
  };
}
