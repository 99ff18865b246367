/**
 * Every limit and default of the protocol, in one place, with units.
 * The agent announces the limits it enforces in its `welcome` frame.
 */
export interface Limits {
  /** Largest encoded frame either side accepts, in bytes. Default 16 MiB. */
  maxFrameBytes: number;
  /** Requests one connection may have in flight at the agent. Default 1024. The client queues beyond it. */
  maxInFlightRequests: number;
  /** Stream chunks the agent may send ahead of the client's acks (credit window). Default 16. */
  streamWindowChunks: number;
  /** Entries per streamed batch (ls, find, glob). Default 2000. */
  streamBatchEntries: number;
  /** A partly filled batch is flushed after this many milliseconds so first results arrive fast. Default 25 ms. */
  streamFlushMs: number;
  /** Bytes per chunk of file reads and writes. Default 1 MiB. */
  transferChunkBytes: number;
  /** Milliseconds a new connection has to send its hello. Default 10 s. */
  helloTimeoutMs: number;
  /** Longest path accepted, in bytes. Default 4096 (PATH_MAX). */
  maxPathBytes: number;
  /** Default wall-clock limit of one walk (find, du, countFiles, glob), in milliseconds. Default 15 min. */
  walkTimeLimitMs: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxFrameBytes: 16 * 1024 * 1024,
  maxInFlightRequests: 1024,
  streamWindowChunks: 16,
  streamBatchEntries: 2000,
  streamFlushMs: 25,
  transferChunkBytes: 1024 * 1024,
  helloTimeoutMs: 10_000,
  maxPathBytes: 4096,
  walkTimeLimitMs: 15 * 60_000,
});

/** Agent-side defaults that are not wire limits. */
export const AGENT_DEFAULTS = Object.freeze({
  /** Milliseconds without a client (and no watched work) before the agent exits. Default 10 min. */
  idleExitMs: 10 * 60_000,
  /** Milliseconds `start` waits for a freshly spawned agent to listen. Default 15 s. */
  startTimeoutMs: 15_000,
});

/** Client-side defaults. */
export const CLIENT_DEFAULTS = Object.freeze({
  /** Milliseconds a unary call may take before it is cancelled with TIMEOUT. Default 60 s; 0 = none. */
  requestTimeoutMs: 60_000,
  /** Milliseconds to connect and complete the hello. Default 20 s. */
  connectTimeoutMs: 20_000,
});
