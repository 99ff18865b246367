/**
 * The hello may ride in the WebSocket upgrade request instead of being the
 * first frame: header `X-Clustrix-Hello`, the hello frame's msgpack bytes in
 * base64url. The agent then answers `welcome` right after its 101 response,
 * so a connection is ready after one round trip (upgrade) instead of two
 * (upgrade, then hello). The header is decoded and validated exactly like a
 * hello frame; without it the agent waits for a hello frame as before.
 *
 * The agent says it took the header by the same header in its 101
 * (`X-Clustrix-Hello: taken`); a client that does not see it (an agent from
 * before this) sends its hello as the first frame instead, so no side waits
 * for a hello that never comes.
 */
import { encodeFrame, decodeClientFrame } from './codec.js';
import { ProtocolError } from './errors.js';
import type { ClientFrame, HelloFrame } from './frames.js';

/** Lower case, as Node's `req.headers` has it. */
export const HELLO_HEADER = 'x-clustrix-hello';

/** The 101's answer when the agent handled the hello header. */
export const HELLO_TAKEN = 'taken';

/** Longest header value accepted (a hello is ~150 bytes of base64). */
export const HELLO_HEADER_MAX_CHARS = 4096;

const BASE64URL = /^[A-Za-z0-9_-]+$/;

export function encodeHelloHeader(hello: HelloFrame): string {
  return Buffer.from(encodeFrame(hello)).toString('base64url');
}

/**
 * The frame a header value holds (validated like any client frame; the
 * caller checks that it is a hello). Throws ProtocolError PROTOCOL naming
 * what is wrong with it.
 */
export function decodeHelloHeader(value: string | string[] | undefined): ClientFrame {
  if (typeof value !== 'string') throw new ProtocolError('PROTOCOL', `bad ${HELLO_HEADER} header: expected one header, got ${value?.length ?? 0}`);
  if (value.length > HELLO_HEADER_MAX_CHARS) {
    throw new ProtocolError('PROTOCOL', `bad ${HELLO_HEADER} header: ${value.length} characters, over ${HELLO_HEADER_MAX_CHARS}`);
  }
  if (!BASE64URL.test(value)) throw new ProtocolError('PROTOCOL', `bad ${HELLO_HEADER} header: not base64url`);
  return decodeClientFrame(Buffer.from(value, 'base64url'), HELLO_HEADER_MAX_CHARS);
}
