/** Progress chunks for long walks (count, du): about one per second, never more than one waiting for credit. */
import type { WalkProgress } from '../../protocol/index.js';
import type { StreamContext } from '../registry.js';

/** Interval between progress chunks, ms. */
export const PROGRESS_INTERVAL_MS = 1000;

export interface Progress {
  /** Stop the timer and wait for a chunk still being sent (so it precedes the summary). */
  stop(): Promise<void>;
}

export function startProgress(ctx: StreamContext<WalkProgress>, snapshot: () => WalkProgress, intervalMs = PROGRESS_INTERVAL_MS): Progress {
  let sending: Promise<void> | null = null;
  const timer = setInterval(() => {
    if (sending || ctx.signal.aborted) return; // the client is slow: skip, the next tick has fresher numbers
    sending = ctx.send(snapshot()).then(
      () => {
        sending = null;
      },
      () => {
        sending = null; // cancellation: the walk sees the signal itself
      },
    );
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      if (sending) await sending;
    },
  };
}
