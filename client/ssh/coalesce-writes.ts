/**
 * ssh2 channels have no _writev, so a corked burst (a WebSocket frame header
 * and its payload, several pipelined requests) becomes one SSH packet per
 * piece: more packets, more sshd wake-ups, more latency. Runs of small pieces
 * are merged into one write (split only at the packet size). Large pieces go
 * as they are: ssh2 cuts them into full packets anyway, and copying them cost
 * the client a memcpy of every uploaded byte (a burst of pipelined 1 MiB
 * upload chunks was concatenated into one 8 MiB buffer; ~12 ms of client CPU
 * per 32 MiB, plus the garbage).
 */
import type { Duplex } from 'node:stream';

/** Pieces at least this big are written on their own (about two SSH packets). */
export const OWN_WRITE_BYTES = 64 * 1024;

type WriteFn = (chunk: Buffer, cb: (err?: Error | null) => void) => void;

/** The burst as writes: small neighbours merged, large pieces untouched (exported for tests). */
export function mergeSmall(chunks: readonly Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  let run: Buffer[] = [];
  const flush = () => {
    if (run.length === 1) out.push(run[0]!);
    else if (run.length > 1) out.push(Buffer.concat(run));
    run = [];
  };
  for (const c of chunks) {
    if (c.length >= OWN_WRITE_BYTES) {
      flush();
      out.push(c);
    } else run.push(c);
  }
  flush();
  return out;
}

/** Write `chunks` one after the other through `write` (one pending write at a time, as ssh2 needs), then `cb`. */
export function writeBurst(chunks: readonly Buffer[], write: WriteFn, cb: (err?: Error | null) => void): void {
  const pieces = mergeSmall(chunks);
  let i = 0;
  // A loop, not recursion: ssh2 calls back synchronously while its window lasts.
  let sync = false;
  let again = false;
  const next = (err?: Error | null): void => {
    if (err) return cb(err);
    if (sync) {
      again = true;
      return;
    }
    do {
      again = false;
      if (i === pieces.length) return cb();
      sync = true;
      write(pieces[i++]!, next);
      sync = false;
    } while (again);
  };
  next();
}

/** Give an ssh2 channel a _writev that sends a corked burst as few writes as possible. */
export function coalesceWrites<T extends Duplex>(ch: T): T {
  const w = ch as unknown as { _writev?: unknown; _write: (c: Buffer, e: BufferEncoding, cb: (err?: Error | null) => void) => void };
  w._writev = (chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void) =>
    writeBurst(
      chunks.map((c) => c.chunk),
      (c, done) => w._write(c, 'binary', done),
      cb,
    );
  return ch;
}
