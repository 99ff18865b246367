/**
 * The mux's own tiny handshake, one JSON line each way, before the bytes of
 * the agent connection flow through unchanged (the WebSocket, the hello with
 * the agent's token, everything after it is end to end between the client
 * and the agent):
 *   client → mux   {"v":1,"refresh":false}      open a channel to the agent
 *                  {"v":1,"refresh":true}       … after asking the cluster again which agent runs
 *                  {"v":1,"stop":true}          shut the mux down
 *   mux → client   {"ok":true,"agent":{…}}      then raw bytes to and from the agent
 *                  {"ok":false,"error":"…"}     and the mux closes the socket
 */
import type { Duplex } from 'node:stream';
import { isRecord, parseJsonRecord } from '../../protocol/index.js';

export const MUX_WIRE_VERSION = 1;
/** No line of this handshake is longer. */
const MAX_LINE = 16 * 1024;

export interface MuxRequest {
  v: number;
  refresh?: boolean;
  stop?: boolean;
}

/** What a client needs to say hello to the agent behind the mux. */
export interface MuxAgent {
  token: string;
  build: string;
  pid: number;
  socket: string;
  runDir: string;
  root: string;
  tunnel: string;
}

export type MuxReply = { ok: true; agent?: MuxAgent; stopping?: boolean } | { ok: false; error: string };

export function parseRequest(line: string): MuxRequest | null {
  const v = parseJsonRecord(line);
  if (!v || v.v !== MUX_WIRE_VERSION) return null;
  if (v.refresh !== undefined && typeof v.refresh !== 'boolean') return null;
  if (v.stop !== undefined && typeof v.stop !== 'boolean') return null;
  return { v: MUX_WIRE_VERSION, refresh: v.refresh === true, stop: v.stop === true };
}

export function parseReply(line: string): MuxReply | null {
  const v = parseJsonRecord(line);
  if (!v) return null;
  if (v.ok === false) return { ok: false, error: typeof v.error === 'string' ? v.error : 'the mux failed' };
  if (v.ok !== true) return null;
  if (v.stopping === true) return { ok: true, stopping: true };
  const a = v.agent;
  if (!isRecord(a) || typeof a.token !== 'string' || typeof a.build !== 'string' || typeof a.socket !== 'string' || typeof a.pid !== 'number') return null;
  return { ok: true, agent: a as unknown as MuxAgent };
}

/**
 * Read one line from a socket without putting it in flowing mode, and give
 * back whatever came after the newline, so the next reader (ws) sees the
 * stream as if the line had never been there. null: closed, too long, or no
 * line within `timeoutMs`.
 */
export async function readLine(s: Duplex, timeoutMs: number): Promise<string | null> {
  const b = await readUntil(s, NEWLINE, MAX_LINE, timeoutMs);
  return b === null ? null : b.subarray(0, b.length - 1).toString('utf8');
}

const NEWLINE = Buffer.from('\n');

/**
 * The bytes up to and including `end`, read without putting the stream in
 * flowing mode; whatever came after is given back to the stream. null:
 * closed, more than `max` bytes without `end`, or nothing within `timeoutMs`.
 */
export function readUntil(s: Duplex, end: Buffer, max: number, timeoutMs: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    let buf: Buffer = Buffer.alloc(0);
    const done = (got: Buffer | null) => {
      clearTimeout(timer);
      s.off('readable', onReadable);
      s.off('close', onClose);
      s.off('error', onClose);
      resolve(got);
    };
    const onClose = () => done(null);
    const onReadable = () => {
      let chunk: Buffer | null;
      while ((chunk = s.read() as Buffer | null) !== null) {
        // Search from just before the new chunk: `end` may straddle two chunks.
        const from = Math.max(0, buf.length - end.length + 1);
        buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
        const at = buf.indexOf(end, from);
        if (at >= 0) {
          const rest = buf.subarray(at + end.length);
          done(buf.subarray(0, at + end.length));
          if (rest.length) s.unshift(rest);
          return;
        }
        if (buf.length > max) return done(null);
      }
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    s.on('readable', onReadable);
    s.once('close', onClose);
    s.once('error', onClose);
    onReadable();
  });
}
