/**
 * A Connection that survives the agent going away between calls. Agents die:
 * sites kill long-running login-node processes, users run `agent stop`, an
 * upgrade replaces them. When the current connection has closed without the
 * user closing it, the next call reconnects (which restarts the agent) first.
 *
 * Calls in flight when the link drops fail with ConnectionError('closed'),
 * except read-only unary methods, which are safe to send again and are
 * retried once on a fresh connection (only when the agent went away: when
 * SSH itself died, they fail with that reason, e.g. a keepalive timeout). Streams are never retried (they may
 * have delivered part of their output).
 *
 * It has Connection's public surface so Cluster and FsApi use it unchanged.
 */
import type { CallOptions, Connection, RemoteStream } from '../connection.js';
import { ConnectionError } from '../errors.js';
import type { ChunkOf, ParamsIn, ResultOf, StreamMethod, UnaryMethod } from '../../protocol/index.js';

/** Methods with no side effects: sending them twice is harmless. */
const READ_ONLY = new Set(['agent.info', 'agent.ping', 'fs.stat', 'fs.lstat', 'fs.exists', 'fs.isdir', 'fs.isfile', 'fs.readlink', 'fs.realpath']);

export interface ReconnectOptions {
  /** Open a fresh connection (restarting the agent, and SSH if it is gone). */
  reopen: () => Promise<Connection>;
  /** A better error than "closed" when we know why the link died (e.g. SSH keepalive timeout). */
  explain?: () => ConnectionError | null;
}

export class ReconnectingConnection {
  #current: Connection;
  #reopening: Promise<Connection> | null = null;
  #userClosed: ConnectionError | null = null;
  readonly #opts: ReconnectOptions;
  readonly #events = new Map<string, Set<(d: unknown) => void>>();
  readonly #closeListeners = new Set<(err: ConnectionError) => void>();
  /** How many times a new connection was opened after the first. */
  reconnects = 0;

  constructor(first: Connection, opts: ReconnectOptions) {
    this.#current = first;
    this.#opts = opts;
  }

  /** The protocol connection in use right now. */
  get current(): Connection {
    return this.#current;
  }
  get welcome(): Connection['welcome'] {
    return this.#current.welcome;
  }
  get limits(): Connection['limits'] {
    return this.#current.limits;
  }
  get closed(): boolean {
    return this.#userClosed !== null;
  }
  get pending(): number {
    return this.#current.pending;
  }

  #explain(err: unknown): unknown {
    if (err instanceof ConnectionError && err.kind === 'closed' && !this.#userClosed) return this.#opts.explain?.() ?? err;
    return err;
  }

  async #live(): Promise<Connection> {
    if (this.#userClosed) throw this.#userClosed;
    if (!this.#current.closed) return this.#current;
    this.#reopening ??= this.#opts.reopen().then(
      (c) => {
        this.#reopening = null;
        if (this.#userClosed) {
          void c.close();
          throw this.#userClosed;
        }
        this.#current = c;
        this.reconnects++;
        for (const topic of this.#events.keys()) this.#dispatch(c, topic);
        return c;
      },
      (err: unknown) => {
        this.#reopening = null;
        throw this.#explain(err);
      },
    );
    return this.#reopening;
  }

  call<M extends UnaryMethod>(method: M, params: ParamsIn<M>, opts: CallOptions = {}): Promise<ResultOf<M>> {
    const attempt = (c: Connection, retry: boolean): Promise<ResultOf<M>> =>
      c.call(method, params, opts).catch((err: unknown) => {
        const dropped = err instanceof ConnectionError && err.kind === 'closed' && !this.#userClosed && !opts.signal?.aborted;
        // Retry only when the agent went away; if SSH itself died (keepalive timeout…), say so instead.
        if (retry && dropped && READ_ONLY.has(method.name) && !this.#opts.explain?.()) return this.#live().then((n) => attempt(n, false));
        throw this.#explain(err);
      });
    if (!this.#current.closed && !this.#userClosed) return attempt(this.#current, true);
    return this.#live().then((c) => attempt(c, true));
  }

  stream<M extends StreamMethod>(method: M, params: ParamsIn<M>, opts: CallOptions = {}): RemoteStream<ChunkOf<M>, ResultOf<M>> {
    if (!this.#current.closed && !this.#userClosed) return this.#current.stream(method, params, opts);
    // Reconnect first; hand out a stream that starts once we are connected.
    const inner = this.#live().then((c) => c.stream(method, params, opts));
    inner.catch(() => {});
    let cancelled = false;
    const result = inner.then((s) => s.result);
    result.catch(() => {});
    return {
      result,
      cancel: () => {
        cancelled = true;
        void inner.then(
          (s) => s.cancel(),
          () => {},
        );
      },
      async *[Symbol.asyncIterator]() {
        const s = await inner;
        if (cancelled) s.cancel();
        yield* s;
      },
    };
  }

  // One dispatcher per topic per connection; listeners live here, so they survive reconnects.
  #dispatch(c: Connection, topic: string): void {
    c.onEvent(topic, (d) => {
      for (const fn of this.#events.get(topic) ?? []) fn(d);
    });
  }

  onEvent(topic: string, fn: (d: unknown) => void): () => void {
    let set = this.#events.get(topic);
    if (!set) {
      this.#events.set(topic, (set = new Set()));
      this.#dispatch(this.#current, topic);
    }
    set.add(fn);
    return () => set.delete(fn);
  }

  /** Called once, when the user closes this connection. */
  onClose(fn: (err: ConnectionError) => void): () => void {
    if (this.#userClosed) {
      fn(this.#userClosed);
      return () => {};
    }
    this.#closeListeners.add(fn);
    return () => this.#closeListeners.delete(fn);
  }

  async close(reason = 'closed by the client'): Promise<void> {
    if (this.#userClosed) return;
    this.#userClosed = new ConnectionError('closed', reason);
    await this.#current.close(reason);
    for (const fn of this.#closeListeners) fn(this.#userClosed);
    this.#closeListeners.clear();
  }

  /** This object, typed as the Connection it stands in for. */
  asConnection(): Connection {
    return this as unknown as Connection;
  }
}
