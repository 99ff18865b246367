/**
 * Groups streamed entries into batches: a batch goes out when it holds
 * `streamBatchEntries` entries or `streamFlushMs` after its first entry,
 * whichever comes first, so huge walks travel in few frames and the first
 * results of a slow walk (a hung NFS directory, say) still arrive quickly.
 */
import type { StreamContext } from './registry.js';

export class Batcher<T> {
  #batch: T[] = [];
  #timer: NodeJS.Timeout | null = null;
  /** A timer-driven send still waiting for window credit. */
  #sending: Promise<void> | null = null;
  readonly #ctx: StreamContext<T[]>;
  readonly #max: number;
  readonly #flushMs: number;

  constructor(ctx: StreamContext<T[]>, max = ctx.limits.streamBatchEntries, flushMs = ctx.limits.streamFlushMs) {
    this.#ctx = ctx;
    this.#max = max;
    this.#flushMs = flushMs;
  }

  /**
   * Add one entry. Returns a promise only when the caller must wait (a full
   * batch is waiting for window credit); otherwise undefined, so hot loops
   * avoid an await per entry.
   */
  push(entry: T): Promise<void> | undefined {
    this.#batch.push(entry);
    if (this.#batch.length >= this.#max) return this.flush();
    if (this.#batch.length === 1 && this.#timer === null) {
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
    if (this.#batch.length === 0) return;
    const batch = this.#batch;
    this.#batch = [];
    const p = this.#ctx.send(batch);
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
    this.#batch = [];
  }

  get pending(): number {
    return this.#batch.length;
  }
}
