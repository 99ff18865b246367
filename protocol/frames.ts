/**
 * The closed set of frames. Each binary WebSocket message carries exactly one
 * frame: a msgpack map with a `t` tag and named fields (so fields can be added
 * without breaking older peers, which ignore what they do not know).
 *
 *   client → agent: hello, req, cancel, ack
 *   agent → client: welcome, res, err, chunk, end, evt
 *
 * One exception to "one message, one frame": a `req` with `b` is followed by
 * its attachment, the next message, `b` raw bytes that are not msgpack (see
 * RequestFrame.b). Bulk data then crosses without being copied into and out
 * of a msgpack frame.
 */
import { isErrorCode, ProtocolError, type WireError } from './errors.js';
import { isRecord } from './json-record.js';
import type { Limits } from './limits.js';

/** First frame of a connection, client → agent. */
export interface HelloFrame {
  t: 'hello';
  /** Protocol version the client speaks. */
  v: number;
  /** The agent's secret token (from the 0600 token file or the start line). */
  token: string;
  /** Free-form client identification for logs, e.g. "clustrix/0.1.0 cli". */
  client?: string;
}

/** Answer to hello, agent → client. */
export interface WelcomeFrame {
  t: 'welcome';
  v: number;
  /** Content hash of the agent bundle that answers. */
  build: string;
  pid: number;
  host: string;
  /** The limits this agent enforces. */
  limits: Limits;
  /** Optional protocol features this agent understands (FEATURES); absent from older agents. */
  features?: string[];
}

/** Protocol features an agent may announce in welcome.features. */
export const FEATURES = Object.freeze({
  /** `req` frames may carry an attachment (RequestFrame.b). */
  attachments: 'attachments',
});

/** A call. `id` is chosen by the client, unique among its in-flight requests. */
export interface RequestFrame {
  t: 'req';
  id: number;
  /** Method name, e.g. "fs.stat". */
  m: string;
  /** Params, validated against the method's schema by the agent. */
  p: unknown;
  /**
   * Attachment: the next message on the connection is `b` raw bytes, which
   * the agent puts into the params field the method names (Method.attachment)
   * before validating them. The agent consumes that message as this request's
   * attachment whatever becomes of the request, so a refused request never
   * leaves bytes to be read as a frame. Only to agents that announce
   * FEATURES.attachments.
   */
  b?: number;
}

/** Successful result of a unary method. */
export interface ResponseFrame {
  t: 'res';
  id: number;
  r: unknown;
}

/** Failure of a request; `id` is null for connection-level protocol errors. */
export interface ErrorFrame {
  t: 'err';
  id: number | null;
  e: WireError;
}

/** One chunk of a streaming method's output. */
export interface ChunkFrame {
  t: 'chunk';
  id: number;
  d: unknown;
}

/** End of a stream, with the method's final result (a summary). */
export interface EndFrame {
  t: 'end';
  id: number;
  r: unknown;
}

/** Client asks the agent to stop working on a request. The agent answers err CANCELLED. */
export interface CancelFrame {
  t: 'cancel';
  id: number;
}

/** Stream credit: the client consumed `n` more chunks of stream `id`. */
export interface AckFrame {
  t: 'ack';
  id: number;
  n: number;
}

/** Unsolicited event, agent → client, for a topic the client subscribed to. */
export interface EventFrame {
  t: 'evt';
  topic: string;
  d: unknown;
}

export type ClientFrame = HelloFrame | RequestFrame | CancelFrame | AckFrame;
export type AgentFrame = WelcomeFrame | ResponseFrame | ErrorFrame | ChunkFrame | EndFrame | EventFrame;
export type Frame = ClientFrame | AgentFrame;
export type FrameTag = Frame['t'];

const MAX_ID = Number.MAX_SAFE_INTEGER;
/** Bound of `b` for the frame to be well formed; the agent then holds it to maxFrameBytes. */
const MAX_ATTACHMENT_BYTES = 2 ** 32;

function fail(message: string): never {
  throw new ProtocolError('PROTOCOL', `bad frame: ${message}`);
}

function checkId(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_ID) {
    fail('"id" must be an integer from 1 to 2^53-1');
  }
  return v;
}

function checkString(v: unknown, field: string, max = 256): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) fail(`"${field}" must be a non-empty string of at most ${max} characters`);
  return v;
}

function checkWireError(v: unknown): WireError {
  if (!isRecord(v)) fail('"e" must be a map');
  if (!isErrorCode(v.code)) fail(`"e.code" is not a known error code: ${String(v.code)}`);
  if (typeof v.message !== 'string') fail('"e.message" must be a string');
  if (v.details !== undefined && v.details !== null && !isRecord(v.details)) fail('"e.details" must be a map');
  const out: WireError = { code: v.code, message: v.message };
  if (isRecord(v.details)) out.details = v.details;
  return out;
}

/** Validate a decoded frame coming from a client. Throws ProtocolError('PROTOCOL'). */
export function validateClientFrame(v: unknown): ClientFrame {
  if (!isRecord(v)) fail('a frame must be a map');
  switch (v.t) {
    case 'req': {
      try {
        const id = checkId(v.id);
        const m = checkString(v.m, 'm', 128);
        if (v.b === undefined) return { t: 'req', id, m, p: v.p };
        if (typeof v.b !== 'number' || !Number.isInteger(v.b) || v.b < 0 || v.b > MAX_ATTACHMENT_BYTES) {
          fail(`"b" must be an integer from 0 to ${MAX_ATTACHMENT_BYTES}`);
        }
        return { t: 'req', id, m, p: v.p, b: v.b };
      } catch (err) {
        // The attachment follows all the same: say so, so that it is skipped rather than read as a frame.
        if (v.b !== undefined && err instanceof ProtocolError) throw new ProtocolError(err.code, err.message, { attachment: 'skipped' });
        throw err;
      }
    }
    case 'cancel':
      return { t: 'cancel', id: checkId(v.id) };
    case 'ack': {
      const id = checkId(v.id);
      if (typeof v.n !== 'number' || !Number.isInteger(v.n) || v.n < 1 || v.n > 1_000_000) fail('"n" must be an integer from 1 to 1e6');
      return { t: 'ack', id, n: v.n };
    }
    case 'hello': {
      if (typeof v.v !== 'number' || !Number.isInteger(v.v)) fail('"v" must be an integer');
      const token = checkString(v.token, 'token', 256);
      const frame: HelloFrame = { t: 'hello', v: v.v, token };
      if (v.client !== undefined) frame.client = checkString(v.client, 'client', 256);
      return frame;
    }
    default:
      return fail(`unknown frame tag ${JSON.stringify(v.t)} from a client`);
  }
}

/** Validate a decoded frame coming from the agent. Throws ProtocolError('PROTOCOL'). */
export function validateAgentFrame(v: unknown): AgentFrame {
  if (!isRecord(v)) fail('a frame must be a map');
  switch (v.t) {
    case 'res':
      return { t: 'res', id: checkId(v.id), r: v.r };
    case 'chunk':
      return { t: 'chunk', id: checkId(v.id), d: v.d };
    case 'end':
      return { t: 'end', id: checkId(v.id), r: v.r };
    case 'err':
      return { t: 'err', id: v.id === null || v.id === undefined ? null : checkId(v.id), e: checkWireError(v.e) };
    case 'evt':
      return { t: 'evt', topic: checkString(v.topic, 'topic'), d: v.d };
    case 'welcome': {
      if (typeof v.v !== 'number') fail('"v" must be a number');
      if (typeof v.pid !== 'number') fail('"pid" must be a number');
      if (!isRecord(v.limits)) fail('"limits" must be a map');
      const frame: WelcomeFrame = {
        t: 'welcome',
        v: v.v,
        build: checkString(v.build, 'build'),
        pid: v.pid,
        host: typeof v.host === 'string' ? v.host : '',
        limits: v.limits as unknown as Limits,
      };
      if (v.features !== undefined) {
        if (!Array.isArray(v.features) || v.features.length > 64 || !v.features.every((f) => typeof f === 'string')) {
          fail('"features" must be a list of at most 64 strings');
        }
        frame.features = v.features;
      }
      return frame;
    }
    default:
      return fail(`unknown frame tag ${JSON.stringify(v.t)} from the agent`);
  }
}
