/**
 * The client end of the protocol over any duplex byte stream: a Unix socket,
 * an ssh2 stream-local channel, an exec-bridge channel, an in-memory pair.
 * Typed calls and streams from the method table, cancellation end to end,
 * flow control, client-side queueing beyond the agent's in-flight limit.
 */
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import {
  CLIENT_DEFAULTS,
  DEFAULT_LIMITS,
  decodeAgentFrame,
  encodeFrame,
  encodeHelloHeader,
  FEATURES,
  HELLO_HEADER,
  HELLO_TAKEN,
  PROTOCOL_VERSION,
  ProtocolError,
  type AgentFrame,
  type ChunkOf,
  type ClientFrame,
  type HelloFrame,
  type Limits,
  type ParamsIn,
  type RequestFrame,
  type ResultOf,
  type StreamMethod,
  type UnaryMethod,
  type WelcomeFrame,
  type WireError,
} from '../protocol/index.js';
import { ConnectionError, RemoteError } from './errors.js';

export interface CallOptions {
  /** Aborting cancels the call on the agent too. */
  signal?: AbortSignal;
  /** Cancel with TIMEOUT after this many ms. Unary default 60 s; streams: none (walks have their own limit). 0 = none. */
  timeoutMs?: number;
}

export interface OpenOptions {
  token: string;
  /** Shown in agent logs. */
  clientName?: string;
  /** Milliseconds for the WebSocket upgrade and hello. Default 20 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** A streaming call: iterate the chunks; `result` settles with the summary. */
export interface RemoteStream<C, R> extends AsyncIterable<C> {
  readonly result: Promise<R>;
  cancel(): void;
}

/**
 * Timeouts of at least this many ms are not a timer each: one sweep, every
 * SWEEP_MS while such calls are pending, cancels the overdue ones. A timer
 * set and cleared per call was ~10 µs of a ~450 µs stat through SSH.
 */
const SWEPT_TIMEOUT_MS = 1000;
const SWEEP_MS = 250;

/**
 * Bytes params of at least this size travel as the request's attachment (a
 * raw message after the frame, RequestFrame.b) when the method and the agent
 * allow it: msgpack would copy them into the frame (an upload's every byte:
 * ~16 ms of client CPU per 32 MiB plus the garbage). Smaller ones stay inline.
 */
export const ATTACH_MIN_BYTES = 16 * 1024;

type Pending = (
  { kind: 'unary'; method: string; resolve: (r: unknown) => void; reject: (e: Error) => void } | { kind: 'stream'; method: string; stream: StreamState }
) & {
  /** Disarms the signal and a timer of its own; null when there is neither. */
  cleanup: (() => void) | null;
  /** performance.now() after which the sweep cancels the call with TIMEOUT; 0 for none. */
  deadline: number;
  timeoutMs: number;
};

interface StreamState {
  chunks: unknown[];
  waiter: (() => void) | null;
  done: boolean;
  error: Error | null;
  resolveResult: (r: unknown) => void;
  rejectResult: (e: Error) => void;
}

interface Queued {
  frame: RequestFrame;
  start: () => void;
}

/** Socket-like duplex; ws wants a few net.Socket methods that ssh2 channels lack. */
function asSocket(d: Duplex): Duplex {
  const s = d as Duplex & { setNoDelay?: unknown; setTimeout?: unknown; setKeepAlive?: unknown };
  if (typeof s.setNoDelay !== 'function') s.setNoDelay = () => s;
  if (typeof s.setTimeout !== 'function') s.setTimeout = () => s;
  if (typeof s.setKeepAlive !== 'function') s.setKeepAlive = () => s;
  return d;
}

export class Connection {
  readonly welcome: WelcomeFrame;
  readonly limits: Readonly<Limits>;
  readonly #ws: WebSocket;
  readonly #socket: Duplex;
  readonly #pending = new Map<number, Pending>();
  /** Requests waiting for an in-flight slot: a FIFO with a moving head (shift() on a big array is O(n)). */
  #queue: Queued[] = [];
  #queueHead = 0;
  readonly #listeners = new Map<string, Set<(d: unknown) => void>>();
  readonly #closeListeners = new Set<(err: ConnectionError) => void>();
  /** Ids sent to the agent and not yet settled: bounded by the agent's maxInFlightRequests. */
  readonly #sent = new Set<number>();
  #nextId = 1;
  #closedError: ConnectionError | null = null;
  #corked = false;
  #sweep: NodeJS.Timeout | null = null;
  /** The agent takes attachments (older agents: bytes go inside the frame). */
  readonly #attachments: boolean;

  private constructor(ws: WebSocket, socket: Duplex, welcome: WelcomeFrame) {
    this.#ws = ws;
    this.#socket = socket;
    this.welcome = welcome;
    this.limits = { ...DEFAULT_LIMITS, ...sanitizeLimits(welcome.limits) };
    this.#attachments = welcome.features?.includes(FEATURES.attachments) ?? false;
    ws.on('message', (data: Buffer, isBinary: boolean) => this.#onMessage(data, isBinary));
    ws.on('close', (code: number, reason: Buffer) => {
      const why = reason.length ? reason.toString() : 'no reason given';
      this.#teardown(new ConnectionError('closed', `connection to the agent closed (code ${code}: ${why})`, { details: { code } }));
    });
    ws.on('error', (err: Error) => this.#teardown(new ConnectionError('closed', `connection to the agent failed: ${err.message}`, { cause: err })));
  }

  /** Open the WebSocket over `socket`, say hello, wait for welcome. */
  static open(socket: Duplex, opts: OpenOptions): Promise<Connection> {
    const timeoutMs = opts.timeoutMs ?? CLIENT_DEFAULTS.connectTimeoutMs;
    return new Promise((resolve, reject) => {
      // The hello rides in the upgrade request (protocol/hello-header.ts): welcome comes back with the 101.
      const hello: HelloFrame = { t: 'hello', v: PROTOCOL_VERSION, token: opts.token, client: opts.clientName ?? 'clustrix' };
      const ws = new WebSocket('ws://clustrix-agent/', {
        createConnection: () => asSocket(socket) as never,
        headers: { [HELLO_HEADER]: encodeHelloHeader(hello) },
        // A zero masking key: ws then skips XORing every byte we send, and the agent unmasking it
        // (uploads through SSH went from ~70–100 to ~120–190 MiB/s). Masking guards browser traffic
        // through HTTP proxies; this WebSocket only ever runs over a Unix socket or an SSH channel.
        generateMask: (mask: Buffer) => void mask.fill(0),
        perMessageDeflate: false,
        maxPayload: DEFAULT_LIMITS.maxFrameBytes * 2,
        handshakeTimeout: timeoutMs,
      });
      ws.binaryType = 'nodebuffer';
      let settled = false;
      const fail = (err: ConnectionError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        ws.removeAllListeners();
        ws.on('error', () => {});
        ws.terminate();
        socket.destroy();
        reject(err);
      };
      const onAbort = () => fail(new ConnectionError('closed', 'connect aborted', { cause: opts.signal?.reason }));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => fail(new ConnectionError('timeout', `no welcome from the agent within ${timeoutMs} ms`)), timeoutMs);
      ws.once('error', (err) => fail(new ConnectionError('handshake', `WebSocket upgrade to the agent failed: ${err.message}`, { cause: err })));
      ws.once('close', (code, reason) =>
        fail(
          new ConnectionError('handshake', `agent closed the connection during the handshake (code ${code}${reason.length ? `: ${reason.toString()}` : ''})`),
        ),
      );
      // An agent that took the hello header says so in its 101; an older one gets the hello as a frame.
      let helloTaken = false;
      ws.once('upgrade', (res) => (helloTaken = res.headers[HELLO_HEADER] === HELLO_TAKEN));
      ws.once('open', () => {
        if (!helloTaken) ws.send(encodeFrame(hello), { binary: true });
      });
      ws.once('message', (data: Buffer) => {
        let frame: AgentFrame;
        try {
          frame = decodeAgentFrame(data, DEFAULT_LIMITS.maxFrameBytes * 2);
        } catch (err) {
          fail(new ConnectionError('handshake', `agent sent a bad first frame: ${(err as Error).message}`));
          return;
        }
        if (frame.t === 'err') {
          fail(new ConnectionError('handshake', frame.e.message, { details: { code: frame.e.code, ...frame.e.details } }));
          return;
        }
        if (frame.t !== 'welcome') {
          fail(new ConnectionError('handshake', `agent answered hello with "${frame.t}" instead of welcome`));
          return;
        }
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        ws.removeAllListeners();
        resolve(new Connection(ws, socket, frame));
      });
    });
  }

  get closed(): boolean {
    return this.#closedError !== null;
  }

  /** Requests sent and not yet answered, plus those queued locally. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Call a unary method. */
  call<M extends UnaryMethod>(method: M, params: ParamsIn<M>, opts: CallOptions = {}): Promise<ResultOf<M>> {
    return new Promise<ResultOf<M>>((resolve, reject) => {
      if (this.#closedError) return reject(this.#closedError);
      if (opts.signal?.aborted) return reject(cancelledError(method.name, opts.signal.reason));
      const id = this.#nextId++;
      const frame: RequestFrame = { t: 'req', id, m: method.name, p: params };
      const attachment = this.#attachmentOf(method, frame);
      const timeoutMs = opts.timeoutMs ?? CLIENT_DEFAULTS.requestTimeoutMs;
      const p: Pending = { kind: 'unary', method: method.name, resolve: resolve as (r: unknown) => void, reject, cleanup: null, deadline: 0, timeoutMs };
      this.#pending.set(id, p);
      this.#watch(id, p, opts.signal);
      this.#enqueue(frame, attachment);
    });
  }

  /** Take the method's attachment field out of the frame's params when it should travel raw (ATTACH_MIN_BYTES). */
  #attachmentOf(method: UnaryMethod, frame: RequestFrame): Uint8Array | undefined {
    const field = method.attachment;
    if (field === undefined || !this.#attachments) return undefined;
    const { [field]: data, ...rest } = frame.p as Record<string, unknown>;
    if (!(data instanceof Uint8Array) || data.byteLength < ATTACH_MIN_BYTES) return undefined;
    frame.p = rest;
    frame.b = data.byteLength;
    return data;
  }

  /** Call a streaming method. */
  stream<M extends StreamMethod>(method: M, params: ParamsIn<M>, opts: CallOptions = {}): RemoteStream<ChunkOf<M>, ResultOf<M>> {
    let resolveResult!: (r: unknown) => void;
    let rejectResult!: (e: Error) => void;
    const result = new Promise<ResultOf<M>>((res, rej) => {
      resolveResult = res as (r: unknown) => void;
      rejectResult = rej;
    });
    // Consumers that only iterate must not get an unhandled rejection from `result`.
    result.catch(() => {});
    const st: StreamState = { chunks: [], waiter: null, done: false, error: null, resolveResult, rejectResult };
    const id = this.#nextId++;
    const finish = (err: Error | null) => {
      if (st.done) return;
      st.done = true;
      st.error = err;
      const w = st.waiter;
      st.waiter = null;
      w?.();
    };
    if (this.#closedError) {
      finish(this.#closedError);
      rejectResult(this.#closedError);
    } else if (opts.signal?.aborted) {
      const e = cancelledError(method.name, opts.signal.reason);
      finish(e);
      rejectResult(e);
    } else {
      const p: Pending = { kind: 'stream', method: method.name, stream: st, cleanup: null, deadline: 0, timeoutMs: opts.timeoutMs ?? 0 };
      this.#pending.set(id, p);
      this.#watch(id, p, opts.signal);
      this.#enqueue({ t: 'req', id, m: method.name, p: params });
      // Make the stream state visible to the frame handler's finish logic.
      st.resolveResult = (r) => {
        finish(null);
        resolveResult(r);
      };
      st.rejectResult = (e) => {
        finish(e);
        rejectResult(e);
      };
    }
    const cancel = () => this.#cancel(id, cancelledError(method.name));
    const ack = () => this.#sendFrame({ t: 'ack', id, n: 1 });
    return {
      result,
      cancel,
      async *[Symbol.asyncIterator]() {
        try {
          for (;;) {
            if (st.chunks.length > 0) {
              const c = st.chunks.shift() as ChunkOf<M>;
              ack();
              yield c;
              continue;
            }
            if (st.done) {
              if (st.error) throw st.error;
              return;
            }
            await new Promise<void>((r) => (st.waiter = r));
          }
        } finally {
          // Consumer stopped early (break/throw): cancel the walk on the agent.
          if (!st.done) cancel();
        }
      },
    };
  }

  /** Subscribe to events of a topic. Returns the unsubscribe function. */
  onEvent(topic: string, fn: (d: unknown) => void): () => void {
    let set = this.#listeners.get(topic);
    if (!set) this.#listeners.set(topic, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  /** Called once when the connection closes, for whatever reason. */
  onClose(fn: (err: ConnectionError) => void): () => void {
    if (this.#closedError) {
      fn(this.#closedError);
      return () => {};
    }
    this.#closeListeners.add(fn);
    return () => this.#closeListeners.delete(fn);
  }

  /** Close; everything pending is rejected with one ConnectionError('closed'). Idempotent. */
  async close(reason = 'closed by the client'): Promise<void> {
    if (this.#closedError) return;
    this.#teardown(new ConnectionError('closed', reason));
    // Say goodbye without waiting for the agent's reply to it: every call is
    // answered or rejected by now, the agent takes a client that goes in its
    // stride, and waiting cost a round trip at the end of every script and CLI
    // command. The close frame is flushed (our per-tick cork undone) first.
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.close(1000, reason.slice(0, 120));
    const s = this.#socket as Duplex & { uncork?: () => void };
    while (s.writableCorked > 0 && s.uncork) s.uncork();
    s.destroy();
  }

  // Arms the signal and timeout of one request (p.cleanup disarms them).
  #watch(id: number, p: Pending, signal: AbortSignal | undefined): void {
    const { method, timeoutMs } = p;
    let onAbort: (() => void) | null = null;
    if (signal) {
      onAbort = () => this.#cancel(id, cancelledError(method, signal.reason));
      signal.addEventListener('abort', onAbort, { once: true });
    }
    let timer: NodeJS.Timeout | null = null;
    if (timeoutMs >= SWEPT_TIMEOUT_MS) {
      p.deadline = performance.now() + timeoutMs;
      this.#sweep ??= setTimeout(() => this.#sweepTimeouts(), SWEEP_MS);
    } else if (timeoutMs > 0) timer = setTimeout(() => this.#cancel(id, timedOut(method, timeoutMs)), timeoutMs);
    if (onAbort || timer) {
      p.cleanup = () => {
        if (onAbort) signal?.removeEventListener('abort', onAbort);
        if (timer) clearTimeout(timer);
      };
    }
  }

  #sweepTimeouts(): void {
    this.#sweep = null;
    const now = performance.now();
    let more = false;
    for (const [id, p] of this.#pending) {
      if (p.deadline === 0) continue;
      if (p.deadline <= now) this.#cancel(id, timedOut(p.method, p.timeoutMs));
      else more = true;
    }
    if (more && !this.#closedError) this.#sweep = setTimeout(() => this.#sweepTimeouts(), SWEEP_MS);
  }

  #enqueue(frame: RequestFrame, attachment?: Uint8Array): void {
    let bytes: Uint8Array;
    try {
      bytes = encodeFrame(frame);
    } catch (err) {
      this.#settle(frame.id, new RemoteError({ code: 'INVALID_PARAMS', message: `${frame.m}: params cannot be encoded: ${(err as Error).message}` }, frame.m));
      return;
    }
    const size = Math.max(bytes.byteLength, attachment?.byteLength ?? 0);
    if (size > this.limits.maxFrameBytes) {
      this.#settle(
        frame.id,
        new RemoteError(
          {
            code: 'TOO_LARGE',
            message: `${frame.m}: request of ${size} bytes exceeds the ${this.limits.maxFrameBytes}-byte frame limit; send large data in chunks`,
          },
          frame.m,
        ),
      );
      return;
    }
    const start = () => {
      this.#sent.add(frame.id);
      this.#rawSend(bytes);
      // Right behind its frame, in the same tick: nothing can come between them.
      if (attachment) this.#rawSend(attachment);
    };
    if (this.#queueHead === this.#queue.length && this.#sent.size < this.limits.maxInFlightRequests) start();
    else this.#queue.push({ frame, start });
  }

  #rawSend(bytes: Uint8Array): void {
    if (this.#closedError) return;
    if (!this.#corked) {
      this.#corked = true;
      const s = this.#socket as Duplex & { cork?: () => void; uncork?: () => void };
      s.cork?.();
      process.nextTick(() => {
        this.#corked = false;
        s.uncork?.();
      });
    }
    this.#ws.send(bytes, { binary: true });
  }

  #sendFrame(frame: ClientFrame): void {
    this.#rawSend(encodeFrame(frame));
  }

  #cancel(id: number, err: Error): void {
    const p = this.#pending.get(id);
    if (!p) return;
    if (this.#sent.has(id)) this.#sendFrame({ t: 'cancel', id });
    else {
      // Still queued locally: never sent, so nothing to cancel on the agent; drop it from the queue.
      const qi = this.#queue.findIndex((q, i) => i >= this.#queueHead && q.frame.id === id);
      if (qi >= 0) this.#queue.splice(qi, 1);
    }
    this.#settle(id, err);
  }

  #settle(id: number, err: Error | null, value?: unknown): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    this.#sent.delete(id);
    p.cleanup?.();
    if (p.kind === 'unary') {
      if (err) p.reject(err);
      else p.resolve(value);
    } else if (err) p.stream.rejectResult(err);
    else p.stream.resolveResult(value);
    this.#drainQueue();
  }

  #drainQueue(): void {
    while (this.#queueHead < this.#queue.length && this.#sent.size < this.limits.maxInFlightRequests) {
      const q = this.#queue[this.#queueHead]!;
      this.#queue[this.#queueHead++] = undefined as unknown as Queued;
      q.start();
    }
    if (this.#queueHead === this.#queue.length) {
      this.#queue = [];
      this.#queueHead = 0;
    } else if (this.#queueHead > 4096 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    if (!isBinary) return;
    let frame: AgentFrame;
    try {
      frame = decodeAgentFrame(data, this.limits.maxFrameBytes * 2);
    } catch (err) {
      // The agent is our own code: a bad frame means a broken link or bug. Say so, loudly.
      this.#teardown(new ConnectionError('closed', `agent sent a bad frame: ${(err as ProtocolError).message}`));
      return;
    }
    switch (frame.t) {
      case 'res':
        this.#settle(frame.id, null, frame.r);
        return;
      case 'end':
        this.#settle(frame.id, null, frame.r);
        return;
      case 'err': {
        if (frame.id === null) return this.#onConnectionLevelError(frame.e);
        const p = this.#pending.get(frame.id);
        this.#settle(frame.id, new RemoteError(frame.e, p?.method));
        return;
      }
      case 'chunk': {
        const p = this.#pending.get(frame.id);
        if (!p || p.kind !== 'stream') return;
        p.stream.chunks.push(frame.d);
        const w = p.stream.waiter;
        p.stream.waiter = null;
        w?.();
        return;
      }
      case 'evt': {
        const set = this.#listeners.get(frame.topic);
        if (set) for (const fn of set) fn(frame.d);
        return;
      }
      case 'welcome':
        return;
    }
  }

  #onConnectionLevelError(e: WireError): void {
    // Errors without an id answer frames the agent could not attribute; our
    // frames are well formed, so log-worthy but not fatal.
    const set = this.#listeners.get('$error');
    if (set) for (const fn of set) fn(e);
  }

  #teardown(err: ConnectionError): void {
    if (this.#closedError) return;
    this.#closedError = err;
    if (this.#sweep) clearTimeout(this.#sweep);
    this.#sweep = null;
    this.#queue = [];
    this.#queueHead = 0;
    for (const id of [...this.#pending.keys()]) this.#settle(id, err);
    for (const fn of this.#closeListeners) fn(err);
    this.#closeListeners.clear();
  }
}

function timedOut(method: string, timeoutMs: number): RemoteError {
  return new RemoteError({ code: 'TIMEOUT', message: `${method} timed out after ${timeoutMs} ms` }, method);
}

function cancelledError(method: string, cause?: unknown): RemoteError {
  return new RemoteError({ code: 'CANCELLED', message: `${method} was cancelled` }, method, { cause });
}

function sanitizeLimits(l: unknown): Partial<Limits> {
  const out: Partial<Limits> = {};
  if (typeof l !== 'object' || l === null) return out;
  for (const [k, v] of Object.entries(l)) {
    if (k in DEFAULT_LIMITS && typeof v === 'number' && Number.isFinite(v) && v > 0) (out as Record<string, number>)[k] = v;
  }
  return out;
}

export { ProtocolError };
