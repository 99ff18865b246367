/**
 * A WebSocket session to the agent that the mux opens ahead of a command
 * (the upgrade and the hello already done), so a command in a burst waits
 * one round trip less: the mux answers the command's own upgrade request
 * itself (a 101 with the Sec-WebSocket-Accept for the command's key) and from
 * then on passes bytes through, the agent's welcome first. WebSocket frames
 * carry no state from the handshake here (no extensions, no subprotocol), so
 * the two halves join into one session.
 *
 * The mux knows the agent's token (it hands it to commands), and takes over a
 * command's upgrade only when its hello names that token and our protocol;
 * otherwise the command gets a plain channel and its own request goes
 * through as it is, for the agent to judge.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { decodeHelloHeader, encodeHelloHeader, HELLO_HEADER, HELLO_TAKEN, PROTOCOL_VERSION } from '../../protocol/index.js';
import { readUntil } from './wire.js';

export interface ReadySession {
  /** The upgraded stream. */
  stream: Duplex;
  token: string;
  /** Still usable: open, and the agent has sent its welcome and nothing after it (a close frame, say). */
  alive(): boolean;
  /** Stop watching and give back what the agent sent so far (its welcome), for the command that takes the session. */
  take(): Buffer;
}

/** What the agent may send before a command takes the session: its welcome, which is small. */
const EARLY_MAX = 64 * 1024;

/**
 * Count the complete WebSocket frames (server to client: unmasked) at the
 * start of `b`, and whether one is a close frame (opcode 8).
 */
export function scanFrames(b: Buffer): { frames: number; close: boolean } {
  let pos = 0;
  let frames = 0;
  let close = false;
  while (pos + 2 <= b.length) {
    const op = b[pos]! & 0x0f;
    let len = b[pos + 1]! & 0x7f;
    let head = 2;
    if (len === 126) {
      if (pos + 4 > b.length) break;
      len = b.readUInt16BE(pos + 2);
      head = 4;
    } else if (len === 127) {
      if (pos + 10 > b.length) break;
      len = Number(b.readBigUInt64BE(pos + 2));
      head = 10;
    }
    if (pos + head + len > b.length) break;
    frames++;
    if (op === 8) close = true;
    pos += head + len;
  }
  return { frames, close };
}

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const HEAD_END = Buffer.from('\r\n\r\n');
/** Longest HTTP head accepted either way (a hello header is ~200 bytes). */
const HEAD_MAX = 16 * 1024;

/** RFC 6455's answer to a Sec-WebSocket-Key. */
export function websocketAccept(key: string): string {
  return createHash('sha1')
    .update(key + WS_GUID)
    .digest('base64');
}

interface Head {
  /** Request line or status line. */
  first: string;
  /** Header names lower case; a repeated header is dropped (none is repeated in a valid upgrade). */
  headers: Map<string, string>;
}

function parseHead(b: Buffer): Head {
  const lines = b.toString('latin1').split('\r\n');
  const headers = new Map<string, string>();
  const repeated = new Set<string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (headers.has(name)) repeated.add(name);
    headers.set(name, line.slice(colon + 1).trim());
  }
  for (const name of repeated) headers.delete(name);
  return { first: lines[0] ?? '', headers };
}

/** Upgrade a fresh channel to the agent and say hello with `token`, as a command's Connection.open would. Throws when the agent does not take it. */
export async function upgradeAhead(stream: Duplex, token: string, clientName: string, timeoutMs: number): Promise<ReadySession> {
  const key = randomBytes(16).toString('base64');
  const hello = encodeHelloHeader({ t: 'hello', v: PROTOCOL_VERSION, token, client: clientName });
  stream.write(
    `GET / HTTP/1.1\r\nHost: clustrix-agent\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n${HELLO_HEADER}: ${hello}\r\n\r\n`,
  );
  const raw = await readUntil(stream, HEAD_END, HEAD_MAX, timeoutMs);
  if (raw === null) throw new Error('the agent did not answer the WebSocket upgrade');
  const h = parseHead(raw);
  if (!/^HTTP\/1\.1 101 /.test(h.first)) throw new Error(`the agent refused the upgrade: ${h.first}`);
  if (h.headers.get('sec-websocket-accept') !== websocketAccept(key)) throw new Error('the agent answered the upgrade with a wrong Sec-WebSocket-Accept');
  if (h.headers.get(HELLO_HEADER) !== HELLO_TAKEN) throw new Error('the agent did not take the hello header');
  // Read what the agent sends while the session waits: its welcome, then nothing, unless it is
  // going away (a close frame when it stops): then the session is dropped at once, so the agent
  // does not wait for a close reply that would never come.
  let early = Buffer.alloc(0);
  let dead = false;
  const onData = (chunk: Buffer) => {
    early = Buffer.concat([early, chunk]);
    const f = scanFrames(early);
    if (f.close || f.frames > 1 || early.length > EARLY_MAX) {
      dead = true;
      stream.destroy();
    }
  };
  const onEnd = () => (dead = true);
  stream.on('data', onData);
  stream.once('end', onEnd);
  stream.once('close', onEnd);
  return {
    stream,
    token,
    alive: () => !dead && !stream.destroyed && scanFrames(early).frames === 1,
    take: () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.pause();
      return early;
    },
  };
}

const sameSecret = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/**
 * Read a command's upgrade request; when it is one the ready session can
 * answer (a WebSocket upgrade whose hello has our protocol and the session's
 * token), answer it with a 101 and return `taken`. Otherwise return what was
 * read (to send on a plain channel), or null when the command sent no
 * request head at all.
 */
export async function answerUpgrade(client: Duplex, ready: ReadySession, timeoutMs: number): Promise<{ taken: true } | { taken: false; head: Buffer | null }> {
  const raw = await readUntil(client, HEAD_END, HEAD_MAX, timeoutMs);
  if (raw === null) return { taken: false, head: null };
  const h = parseHead(raw);
  const key = h.headers.get('sec-websocket-key');
  let ours = false;
  try {
    const f = decodeHelloHeader(h.headers.get(HELLO_HEADER));
    ours = f.t === 'hello' && f.v === PROTOCOL_VERSION && sameSecret(f.token, ready.token);
  } catch {
    ours = false;
  }
  const upgrade =
    /^GET \S+ HTTP\/1\.1$/.test(h.first) && h.headers.get('upgrade')?.toLowerCase() === 'websocket' && h.headers.get('sec-websocket-version') === '13';
  if (!ours || !upgrade || !key) return { taken: false, head: raw };
  client.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Accept: ${websocketAccept(key)}\r\n${HELLO_HEADER}: ${HELLO_TAKEN}\r\n\r\n`,
  );
  return { taken: true };
}
