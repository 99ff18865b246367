/**
 * One client connection: hello, then requests handled concurrently, with
 * cancellation, stream credit and clean-up on close. Every incoming frame is
 * validated first; a bad frame is answered with a protocol error and the
 * connection stays usable. Nothing a client sends can throw out of here.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import type { WebSocket, RawData } from 'ws';
import {
  decodeClientFrame,
  decodeHelloHeader,
  encodeFrame,
  FEATURES,
  isErrnoCode,
  parseParams,
  PROTOCOL_VERSION,
  ProtocolError,
  type AgentFrame,
  type ClientFrame,
  type Limits,
  type RequestFrame,
  type WireError,
} from '../protocol/index.js';
import type { Logger } from './log.js';
import type { Registry, StreamContext } from './registry.js';

export interface SessionDeps {
  registry: Registry;
  limits: Readonly<Limits>;
  token: string;
  build: string;
  host: string;
  log: Logger;
}

/**
 * One request being handled, and the context its handler gets. The
 * AbortController is made only when the handler asks for `signal` (streams
 * always do): creating one cost ~10 µs of the agent's ~100 µs per stat.
 */
class InFlight implements StreamContext<unknown> {
  /** A response (or CANCELLED) has been sent; later output is dropped. */
  answered = false;
  /** Cancelled, timed out or disconnected. */
  aborted = false;
  credit: number;
  /** Wakes a stream handler waiting for credit. */
  wake: (() => void) | null = null;
  readonly id: number;
  readonly limits: Readonly<Limits>;
  readonly log: Logger;
  readonly #session: Session;
  readonly #sendChunk: ChunkSender;
  #ac: AbortController | null = null;
  #reason: unknown = undefined;

  constructor(session: Session, sendChunk: ChunkSender, id: number, deps: SessionDeps) {
    this.#session = session;
    this.#sendChunk = sendChunk;
    this.id = id;
    this.limits = deps.limits;
    this.log = deps.log;
    this.credit = deps.limits.streamWindowChunks;
  }

  get signal(): AbortSignal {
    if (!this.#ac) {
      this.#ac = new AbortController();
      if (this.aborted) this.#ac.abort(this.#reason);
    }
    return this.#ac.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.#reason = reason;
    this.#ac?.abort(reason);
    // A stream handler may be parked waiting for credit.
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  onClose(fn: () => void): void {
    this.#session.onClose(fn);
  }

  send(chunk: unknown): Promise<void> {
    return this.#sendChunk(this, chunk);
  }
}

type ChunkSender = (f: InFlight, chunk: unknown) => Promise<void>;

let nextSessionId = 1;

export class Session {
  readonly id = nextSessionId++;
  readonly #ws: WebSocket;
  readonly #socket: Socket;
  readonly #deps: SessionDeps;
  readonly #inflight = new Map<number, InFlight>();
  /** Handlers still running, answered or not (a cancelled one may be cleaning up). */
  readonly #running = new Set<Promise<unknown>>();
  readonly #closeHooks: (() => void)[] = [];
  #state: 'hello' | 'open' | 'closed' = 'hello';
  #helloTimer: NodeJS.Timeout | null;
  #corked = false;
  /**
   * The request whose attachment is the next message (RequestFrame.b); frame
   * null when that request was refused already and its attachment is only to
   * be skipped.
   */
  #attachmentFor: { frame: RequestFrame | null; bytes: number } | null = null;
  readonly #sendChunk: ChunkSender = (f, chunk) => this.#streamSend(f, chunk);

  /**
   * `helloHeader`: the upgrade request's X-Clustrix-Hello, when the client
   * sent its hello there; it is handled like a first frame at once (the 101
   * has been written), so welcome follows the upgrade without another trip.
   */
  constructor(ws: WebSocket, socket: Socket, deps: SessionDeps, helloHeader?: string | string[]) {
    this.#ws = ws;
    this.#socket = socket;
    this.#deps = deps;
    this.#helloTimer = setTimeout(() => {
      deps.log.warn({ session: this.id }, 'no hello in time; closing');
      this.#ws.close(4001, 'no hello in time');
    }, deps.limits.helloTimeoutMs);
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on('close', () => this.#onClose());
    ws.on('error', (err) => deps.log.warn({ session: this.id, err: err.message }, 'websocket error'));
    if (helloHeader !== undefined) {
      const frame = this.#decode(() => decodeHelloHeader(helloHeader));
      if (frame) this.#onHello(frame);
    }
  }

  get inFlight(): number {
    return this.#inflight.size;
  }

  /** Push an event frame to this client. */
  event(topic: string, d: unknown): void {
    if (this.#state === 'open') this.#send({ t: 'evt', topic, d });
  }

  close(code = 1001, reason = 'agent shutting down'): void {
    if (this.#state !== 'closed') this.#ws.close(code, reason);
  }

  /**
   * Cancel every request now (the agent is stopping): each handler sees its
   * signal abort and can clean up (probe markers, temp files) while the
   * client still gets its CANCELLED. Resolves when every handler has
   * returned.
   */
  async cancelAll(why: string): Promise<void> {
    for (const id of [...this.#inflight.keys()]) this.#cancel(id, why);
    await Promise.allSettled([...this.#running]);
  }

  onClose(fn: () => void): void {
    if (this.#state === 'closed') fn();
    else this.#closeHooks.push(fn);
  }

  #send(frame: AgentFrame): void {
    if (this.#state === 'closed') return;
    // Cork the socket for the rest of this tick: many small responses leave in one write.
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.#socket.uncork();
      });
    }
    this.#ws.send(encodeFrame(frame), { binary: true });
  }

  #sendError(id: number | null, e: WireError): void {
    this.#send({ t: 'err', id, e });
  }

  /** A decoded client frame (a message, or the upgrade's hello header), or undefined once the error is answered. */
  #decode(decode: () => ClientFrame): ClientFrame | undefined {
    try {
      return decode();
    } catch (err) {
      // A bad request frame that announced an attachment: the next message is still not a frame.
      if (err instanceof ProtocolError && err.details?.attachment) this.#attachmentFor = { frame: null, bytes: 0 };
      this.#sendError(null, err instanceof ProtocolError ? err.toWire() : { code: 'PROTOCOL', message: String(err) });
      return undefined;
    }
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    const bytes = Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data;
    if (this.#attachmentFor) {
      const a = this.#attachmentFor;
      this.#attachmentFor = null;
      this.#onAttachment(a.frame, a.bytes, isBinary ? bytes : null);
      return;
    }
    if (!isBinary) {
      this.#sendError(null, { code: 'PROTOCOL', message: 'bad frame: text messages are not part of the protocol; send binary msgpack' });
      return;
    }
    const frame = this.#decode(() => decodeClientFrame(bytes, this.#deps.limits.maxFrameBytes));
    if (!frame) return;
    if (this.#state === 'hello') {
      if (frame.t === 'req' && frame.b !== undefined) this.#attachmentFor = { frame: null, bytes: frame.b };
      this.#onHello(frame);
      return;
    }
    switch (frame.t) {
      case 'req':
        if (frame.b === undefined) this.#onRequest(frame);
        else if (frame.b > this.#deps.limits.maxFrameBytes) {
          this.#attachmentFor = { frame: null, bytes: frame.b };
          this.#sendError(frame.id, {
            code: 'TOO_LARGE',
            message: `attachment of ${frame.b} bytes exceeds the limit of ${this.#deps.limits.maxFrameBytes} bytes`,
          });
        } else this.#attachmentFor = { frame, bytes: frame.b };
        return;
      case 'cancel':
        this.#onCancel(frame.id);
        return;
      case 'ack': {
        const f = this.#inflight.get(frame.id);
        if (f) {
          f.credit += frame.n;
          const wake = f.wake;
          f.wake = null;
          wake?.();
        }
        return;
      }
      case 'hello':
        this.#sendError(null, { code: 'PROTOCOL', message: 'bad frame: hello was already received' });
        return;
    }
  }

  /**
   * The message after a request with `b`: its attachment (null when it was a
   * text message), put into the params field the method names; then the
   * request goes on like any other. `frame` null: skip it.
   */
  #onAttachment(frame: RequestFrame | null, announced: number, bytes: Uint8Array | null): void {
    if (!frame) return;
    const refuse = (code: WireError['code'], message: string) => this.#sendError(frame.id, { code, message });
    if (bytes === null) return refuse('PROTOCOL', 'bad frame: an attachment must be a binary message');
    if (bytes.byteLength !== announced) {
      return refuse('PROTOCOL', `bad frame: attachment of ${bytes.byteLength} bytes, the request announced ${announced}`);
    }
    const reg = this.#deps.registry.get(frame.m);
    // Unknown methods are answered by #onRequest as usual.
    if (!reg) return this.#onRequest(frame);
    const field = reg.kind === 'unary' ? reg.method.attachment : undefined;
    if (field === undefined) return refuse('INVALID_PARAMS', `${frame.m}: takes no attachment`);
    const p = frame.p ?? {};
    if (typeof p !== 'object' || Array.isArray(p) || p instanceof Uint8Array) return refuse('INVALID_PARAMS', `${frame.m}: params: expected a map`);
    if (field in p) return refuse('INVALID_PARAMS', `${frame.m}: params.${field}: given both in params and as the attachment`);
    this.#onRequest({ t: 'req', id: frame.id, m: frame.m, p: { ...p, [field]: bytes } });
  }

  #onHello(frame: ClientFrame): void {
    if (frame.t !== 'hello') {
      this.#sendError(frame.t === 'req' ? frame.id : null, { code: 'PROTOCOL', message: 'bad frame: the first frame must be hello' });
      return;
    }
    if (frame.v !== PROTOCOL_VERSION) {
      this.#sendError(null, {
        code: 'VERSION_MISMATCH',
        message: `client speaks protocol ${frame.v}, this agent speaks ${PROTOCOL_VERSION}; reinstall the agent (clustrix install) or upgrade the client`,
        details: { agent: PROTOCOL_VERSION, client: frame.v, build: this.#deps.build },
      });
      this.#ws.close(4002, 'protocol version mismatch');
      return;
    }
    const a = Buffer.from(frame.token);
    const b = Buffer.from(this.#deps.token);
    if (a.length !== b.length || !timingSafeEqual(a, b)) {
      this.#deps.log.warn({ session: this.id }, 'hello with a wrong token');
      this.#sendError(null, { code: 'UNAUTHORIZED', message: 'wrong agent token; reconnect (the agent may have restarted)' });
      this.#ws.close(4003, 'unauthorized');
      return;
    }
    if (this.#helloTimer) clearTimeout(this.#helloTimer);
    this.#helloTimer = null;
    this.#state = 'open';
    this.#deps.log.info({ session: this.id, client: frame.client }, 'client connected');
    this.#send({
      t: 'welcome',
      v: PROTOCOL_VERSION,
      build: this.#deps.build,
      pid: process.pid,
      host: this.#deps.host,
      limits: { ...this.#deps.limits },
      features: [FEATURES.attachments],
    });
  }

  #onRequest(frame: RequestFrame): void {
    const { id } = frame;
    if (this.#inflight.has(id)) {
      this.#sendError(id, { code: 'PROTOCOL', message: `bad frame: request id ${id} is already in flight` });
      return;
    }
    if (this.#inflight.size >= this.#deps.limits.maxInFlightRequests) {
      this.#sendError(id, {
        code: 'BUSY',
        message: `too many requests in flight on this connection (limit ${this.#deps.limits.maxInFlightRequests}); wait for some to finish`,
      });
      return;
    }
    const reg = this.#deps.registry.get(frame.m);
    if (!reg) {
      this.#sendError(id, { code: 'UNKNOWN_METHOD', message: `unknown method "${frame.m}"; the agent may be older than the client (clustrix install)` });
      return;
    }
    let params: unknown;
    try {
      params = parseParams(reg.method, frame.p);
    } catch (err) {
      this.#sendError(id, toWire(err, this.#deps.log));
      return;
    }
    const f = new InFlight(this, this.#sendChunk, id, this.#deps);
    this.#inflight.set(id, f);
    // Invoke synchronously: a cancel that arrives in the same read as its
    // request must find the handler already listening on the signal.
    let run: Promise<unknown>;
    try {
      run = reg.kind === 'unary' ? Promise.resolve(reg.handler(params, f)) : reg.handler(params, f);
    } catch (err) {
      run = Promise.reject(err);
    }
    this.#running.add(run);
    const done = () => this.#running.delete(run);
    run.then(done, done);
    run.then(
      (r) => {
        if (f.answered) return;
        this.#inflight.delete(id);
        f.answered = true;
        this.#send(reg.kind === 'unary' ? { t: 'res', id, r } : { t: 'end', id, r });
      },
      (err: unknown) => {
        if (f.answered) return;
        this.#inflight.delete(id);
        f.answered = true;
        this.#sendError(id, f.aborted ? cancelled() : toWire(err, this.#deps.log, frame.m));
      },
    );
  }

  async #streamSend(f: InFlight, chunk: unknown): Promise<void> {
    while (f.credit <= 0) {
      if (f.aborted) throw new ProtocolError('CANCELLED', 'request cancelled');
      await new Promise<void>((resolve) => {
        f.wake = resolve;
      });
    }
    if (f.aborted || f.answered) throw new ProtocolError('CANCELLED', 'request cancelled');
    f.credit--;
    this.#send({ t: 'chunk', id: f.id, d: chunk });
    // Transport backpressure: don't outrun a slow link (ssh channel) by more than the socket's buffer.
    if (this.#socket.writableNeedDrain) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#socket.off('drain', done);
          this.#socket.off('close', done);
          resolve();
        };
        this.#socket.on('drain', done);
        this.#socket.on('close', done);
      });
    }
  }

  #onCancel(id: number): void {
    this.#cancel(id, 'request cancelled');
  }

  /** Abort request `id` and answer it CANCELLED (`why`). */
  #cancel(id: number, why: string): void {
    const f = this.#inflight.get(id);
    if (!f || f.answered) return;
    f.answered = true;
    // The id is free at once (clients never reuse ids) so a cancelled walk
    // that takes a moment to notice does not count against the in-flight limit.
    this.#inflight.delete(id);
    f.abort(new ProtocolError('CANCELLED', why));
    this.#sendError(id, { code: 'CANCELLED', message: why });
  }

  #onClose(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    if (this.#helloTimer) clearTimeout(this.#helloTimer);
    for (const f of this.#inflight.values()) {
      f.answered = true;
      f.abort(new ProtocolError('CANCELLED', 'connection closed'));
    }
    for (const fn of this.#closeHooks.splice(0)) {
      try {
        fn();
      } catch (err) {
        this.#deps.log.warn({ err: String(err) }, 'close hook failed');
      }
    }
    this.#deps.log.info({ session: this.id }, 'client disconnected');
  }
}

function cancelled(): WireError {
  return { code: 'CANCELLED', message: 'request cancelled' };
}

/** Any thrown value → the wire error shape. Unknown failures are INTERNAL and logged with their stack. */
export function toWire(err: unknown, log: Logger, method?: string): WireError {
  if (err instanceof ProtocolError) return err.toWire();
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === 'object' && isErrnoCode(e.code)) {
    const out: WireError = { code: e.code, message: e.message };
    if (e.path) out.details = { path: String(e.path), syscall: e.syscall ?? null };
    return out;
  }
  log.error({ err: e?.stack ?? String(err), method }, 'handler failed');
  return { code: 'INTERNAL', message: `${method ?? 'agent'}: internal error: ${e?.message ?? String(err)}` };
}
