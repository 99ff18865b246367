/**
 * msgpack codec for frames. Pure functions, no I/O.
 *
 * Only plain data crosses the wire: maps, arrays, strings, numbers, booleans,
 * nil, binary (Uint8Array) and msgpack timestamps (Date). msgpackr's own
 * extensions (records, Error, RegExp, Set, typed arrays, structured-clone
 * references, bundled strings) are switched off for decoding: a frame that
 * uses one is a protocol error. Nothing received is ever turned into code.
 */
import { addExtension, Packr, Unpackr } from 'msgpackr';
import { ProtocolError } from './errors.js';
import { validateAgentFrame, validateClientFrame, type AgentFrame, type ClientFrame, type Frame } from './frames.js';

/** msgpackr extension type codes we refuse to decode (all but timestamp, -1/0xff). */
const REFUSED_EXTENSIONS = [0x42, 0x62, 0x65, 0x69, 0x70, 0x73, 0x74, 0x78];
for (const type of REFUSED_EXTENSIONS) {
  addExtension({
    type,
    unpack() {
      throw new ProtocolError('PROTOCOL', `bad frame: msgpack extension type ${type} is not allowed`);
    },
  });
}

const packr = new Packr({
  useRecords: false,
  moreTypes: false,
  structuredClone: false,
  bundleStrings: false,
  encodeUndefinedAsNil: false,
  variableMapSize: true,
});

const unpackr = new Unpackr({
  useRecords: false,
  mapsAsObjects: true,
  moreTypes: false,
  structuredClone: false,
  bundleStrings: false,
  int64AsType: 'number',
});

/** Nesting depth and node count a decoded value may have. */
const MAX_DEPTH = 64;

/**
 * Throw unless `v` is plain data: nothing but the types listed at the top of
 * this file, at most MAX_DEPTH deep. Plain objects only (no prototypes).
 */
export function assertPlainData(v: unknown, depth = 0): void {
  if (depth > MAX_DEPTH) throw new ProtocolError('PROTOCOL', `bad frame: nested deeper than ${MAX_DEPTH}`);
  if (v === null || v === undefined) return;
  switch (typeof v) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'bigint':
      return;
    case 'object': {
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) assertPlainData(v[i], depth + 1);
        return;
      }
      if (v instanceof Uint8Array || v instanceof Date) return;
      const proto: unknown = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        throw new ProtocolError('PROTOCOL', 'bad frame: only plain maps, arrays and scalars are allowed');
      }
      for (const key in v) assertPlainData((v as Record<string, unknown>)[key], depth + 1);
      return;
    }
    default:
      throw new ProtocolError('PROTOCOL', `bad frame: values of type ${typeof v} are not allowed`);
  }
}

/** Encode one frame. */
export function encodeFrame(frame: Frame): Uint8Array {
  return packr.pack(frame);
}

function decodeRaw(bytes: Uint8Array, maxFrameBytes: number): unknown {
  if (bytes.byteLength > maxFrameBytes) {
    throw new ProtocolError('TOO_LARGE', `frame of ${bytes.byteLength} bytes exceeds the limit of ${maxFrameBytes} bytes`);
  }
  if (bytes.byteLength === 0) throw new ProtocolError('PROTOCOL', 'bad frame: empty message');
  let value: unknown;
  try {
    value = unpackr.unpack(bytes);
  } catch (err) {
    if (err instanceof ProtocolError) throw err;
    throw new ProtocolError('PROTOCOL', `bad frame: not valid msgpack (${(err as Error).message})`);
  }
  assertPlainData(value);
  return value;
}

/** Decode and validate a frame sent by a client. Throws ProtocolError. */
export function decodeClientFrame(bytes: Uint8Array, maxFrameBytes: number): ClientFrame {
  return validateClientFrame(decodeRaw(bytes, maxFrameBytes));
}

/** Decode and validate a frame sent by the agent. Throws ProtocolError. */
export function decodeAgentFrame(bytes: Uint8Array, maxFrameBytes: number): AgentFrame {
  return validateAgentFrame(decodeRaw(bytes, maxFrameBytes));
}
