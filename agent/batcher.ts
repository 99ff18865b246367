/**
 * Groups streamed entries into batches: a batch goes out when it holds
 * `streamBatchEntries` entries or `streamFlushMs` after its first entry,
 * whichever comes first, so huge walks travel in few frames and the first
 * results of a slow walk (a hung NFS directory, say) still arrive quickly.
 *
 * What a batch looks like is up to its buffer: columns built without an
 * object per entry (find, glob: FindBatchWriter; ls: LsBatchWriter).
 */
import type { StreamContext } from './registry.js';

/** Where entries accumulate until a batch is sent. */
export interface BatchBuffer<C> {
  readonly length: number;
  /** The batch so far; the buffer starts a new one. */
  take(): C;
  clear(): void;
}

export class StreamBatcher<C> {
  readonly buffer: BatchBuffer<C>;
  #timer: NodeJS.Timeout | null = null;
  /** A timer-driven send still waiting for window credit. */
  #sending: Promise<void> | null = null;
  readonly #ctx: StreamContext<C>;
  readonly #max: number;
  readonly #flushMs: number;

  constructor(ctx: StreamContext<C>, buffer: BatchBuffer<C>, max = ctx.limits.streamBatchEntries, flushMs = ctx.limits.streamFlushMs) {
    this.#ctx = ctx;
    this.buffer = buffer;
    this.#max = max;
    this.#flushMs = flushMs;
  }

  /**
   * Call after adding one entry to the buffer. Returns a promise only when
   * the caller must wait (a full batch is waiting for window credit);
   * otherwise undefined, so hot loops avoid an await per entry.
   */
  added(): Promise<void> | undefined {
    const n = this.buffer.length;
    if (n >= this.#max) return this.flush();
    if (n === 1 && this.#timer === null) {
      this.#timer = setTimeout(() => {
        this.#timer = null;
        const p = this.flush();
        // Errors (cancellation) surface on the next push/flush via #sending.
        p.catch(() => {});
      }, this.#flushMs);
    }
    if (this.#sending) return this.#sending;
    return undefined;
  }

  /** Send what is pending (if anything), after any send already waiting. */
  async flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#sending) await this.#sending;
    if (this.buffer.length === 0) return;
    const p = this.#ctx.send(this.buffer.take());
    this.#sending = p;
    try {
      await p;
    } finally {
      if (this.#sending === p) this.#sending = null;
    }
  }

  /** Drop pending entries and the timer (on error or cancel). */
  dispose(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.buffer.clear();
  }

  get pending(): number {
    return this.buffer.length;
  }
}
