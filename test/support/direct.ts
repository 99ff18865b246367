/**
 * Run agent handlers directly, without a session or a socket: a Registry with
 * the fs handlers, params parsed like the session does (defaults applied, bad
 * params → INVALID_PARAMS), a fake context with an AbortController, the
 * default limits, a silent logger, and a send() that resolves at once unless
 * a test supplies its own.
 */
import {
  DEFAULT_LIMITS,
  ProtocolError,
  parseParams,
  readFindBatch,
  readLsBatch,
  type ChunkOf,
  type DirEntry,
  type FindBatch,
  type FindEntry,
  type LsBatch,
  type Limits,
  type ParamsIn,
  type ResultOf,
  type StreamMethod,
  type UnaryMethod,
} from '../../protocol/index.js';
import { registerFsHandlers, type FsHandlerOptions } from '../../agent/fs/index.js';
import { silentLogger } from '../../agent/log.js';
import { Registry, type HandlerContext, type StreamContext } from '../../agent/registry.js';

export interface CollectOptions<C> {
  /** Abort this to cancel (default: a fresh controller per call). */
  controller?: AbortController;
  /** Called for each chunk after it is recorded; its promise is the window credit. */
  send?: (chunk: C, chunks: C[]) => Promise<void>;
  /** Record chunks in the result (default true; benches turn it off to keep memory flat). */
  keep?: boolean;
}

export interface Collected<C, R> {
  chunks: C[];
  summary: R;
}

export interface Direct {
  readonly registry: Registry;
  readonly limits: Limits;
  call<M extends UnaryMethod>(m: M, params: ParamsIn<M>, controller?: AbortController): Promise<ResultOf<M>>;
  collect<M extends StreamMethod>(m: M, params: ParamsIn<M>, opts?: CollectOptions<ChunkOf<M>>): Promise<Collected<ChunkOf<M>, ResultOf<M>>>;
  /** Concatenate the batches of a batched stream (ls, find and glob column batches decoded as the client does). */
  items<M extends StreamMethod>(m: M, params: ParamsIn<M>): Promise<{ items: ItemsOf<ChunkOf<M>>; summary: ResultOf<M> }>;
  /** Simulate the connection closing: runs every ctx.onClose callback registered so far. */
  closeConnection(): void;
}

/** The entries of a batched stream's chunks. */
export type ItemsOf<C> = C extends (infer E)[] ? E[] : C extends FindBatch ? FindEntry[] : C extends LsBatch ? DirEntry[] : never;

/** The entries of chunks as a client sees them: arrays as they are, find/glob and ls column batches decoded. */
export function entriesOf(chunks: unknown[]): unknown[] {
  return chunks.flatMap((c) =>
    Array.isArray(c)
      ? c
      : c instanceof Uint8Array || typeof c !== 'object' || c === null
        ? [c]
        : 'prefixes' in c
          ? readFindBatch(c)
          : 'names' in c && 'types' in c
            ? readLsBatch(c)
            : [c],
  );
}

export function createDirect(opts: FsHandlerOptions & { limits?: Partial<Limits> }): Direct {
  const registry = new Registry();
  registerFsHandlers(registry, opts);
  const limits: Limits = { ...DEFAULT_LIMITS, ...opts.limits };
  let onClose: (() => void)[] = [];

  const ctxFor = (controller: AbortController): HandlerContext => ({
    signal: controller.signal,
    limits,
    log: silentLogger,
    onClose: (fn) => void onClose.push(fn),
  });

  const lookup = (name: string, kind: 'unary' | 'stream') => {
    const r = registry.get(name);
    if (!r || r.kind !== kind) throw new Error(`${name} is not a registered ${kind} method`);
    return r;
  };

  const direct: Direct = {
    registry,
    limits,
    async call(m, params, controller = new AbortController()) {
      const r = lookup(m.name, 'unary');
      if (r.kind !== 'unary') throw new Error('unreachable');
      const p = parseParams(m, params);
      return (await r.handler(p, ctxFor(controller))) as never;
    },
    async collect(m, params, copts = {}) {
      const r = lookup(m.name, 'stream');
      const p = parseParams(m, params);
      const controller = copts.controller ?? new AbortController();
      const chunks: unknown[] = [];
      const ctx: StreamContext<unknown> = {
        ...ctxFor(controller),
        send: async (chunk) => {
          if (controller.signal.aborted) throw new ProtocolError('CANCELLED', `${m.name} cancelled`);
          if (copts.keep !== false) chunks.push(chunk);
          if (copts.send) await copts.send(chunk as never, chunks as never);
        },
      };
      if (r.kind !== 'stream') throw new Error('unreachable');
      const summary = await r.handler(p, ctx);
      return { chunks: chunks as never, summary: summary as never };
    },
    async items(m, params) {
      const { chunks, summary } = await direct.collect(m, params);
      return { items: entriesOf(chunks) as never, summary };
    },
    closeConnection() {
      const fns = onClose;
      onClose = [];
      for (const fn of fns) fn();
    },
  };
  return direct;
}
