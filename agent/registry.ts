/**
 * Handlers, registered against the method values declared in protocol/.
 * Types flow from the one table: a handler receives validated params and must
 * return the method's result type.
 */
import type { ChunkOf, Limits, Method, ParamsOut, ResultOf, StreamMethod, UnaryMethod } from '../protocol/index.js';
import type { Logger } from './log.js';

export interface HandlerContext {
  /** Aborted when the client cancels, times out, or disconnects. Check it in loops. */
  signal: AbortSignal;
  limits: Readonly<Limits>;
  log: Logger;
  /** Run `fn` when the connection that made this request closes (clean-up of per-connection state). */
  onClose(fn: () => void): void;
}

export interface StreamContext<C> extends HandlerContext {
  /**
   * Send one chunk. Resolves when the client's credit window has room for the
   * next one: always await it, that is the flow control. Rejects with
   * CANCELLED once the request is cancelled.
   */
  send(chunk: C): Promise<void>;
}

export type UnaryHandler<M extends UnaryMethod> = (params: ParamsOut<M>, ctx: HandlerContext) => Promise<ResultOf<M>> | ResultOf<M>;
export type StreamHandler<M extends StreamMethod> = (params: ParamsOut<M>, ctx: StreamContext<ChunkOf<M>>) => Promise<ResultOf<M>>;

export type Registered =
  | { method: UnaryMethod; kind: 'unary'; handler: (p: unknown, ctx: HandlerContext) => unknown }
  | { method: StreamMethod; kind: 'stream'; handler: (p: unknown, ctx: StreamContext<unknown>) => Promise<unknown> };

export class Registry {
  readonly #handlers = new Map<string, Registered>();

  unary<M extends UnaryMethod>(method: M, handler: UnaryHandler<M>): this {
    this.#add({ method, kind: 'unary', handler: handler });
    return this;
  }

  stream<M extends StreamMethod>(method: M, handler: StreamHandler<M>): this {
    this.#add({ method, kind: 'stream', handler: handler as unknown as Registered['handler'] } as Registered);
    return this;
  }

  get(name: string): Registered | undefined {
    return this.#handlers.get(name);
  }

  names(): string[] {
    return [...this.#handlers.keys()];
  }

  #add(r: Registered): void {
    if (r.method.kind !== r.kind) throw new Error(`${r.method.name} is a ${r.method.kind} method`);
    if (this.#handlers.has(r.method.name)) throw new Error(`${r.method.name} registered twice`);
    this.#handlers.set(r.method.name, r);
  }
}

export type { Method };
