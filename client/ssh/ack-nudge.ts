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
import type { Client } from 'ssh2';

const INTERVAL_MS = 3;
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
