/**
 * Dependency environment handlers:
 *
 *   registerEnvHandlers(registry, { root, home, host, pid })
 *
 * spec.ts: canonical JSON, hash, activate/prelude scripts, build argv.
 * lease.ts: the O_EXCL lease file on the shared filesystem.
 * run.ts: one build command with streamed, line-split output.
 * ensure.ts: reuse, wait or build; atomic ready marking.
 */
import { envsEnsure, type EnvLogChunk } from '../../protocol/index.js';
import type { Registry } from '../registry.js';
import { ensureEnv, type EnsureDeps } from './ensure.js';

export type EnvHandlerOptions = EnsureDeps;

/** Lines per log chunk at most; bursts coalesce into one chunk. */
const MAX_LINES_PER_CHUNK = 500;
/** Lines queued for a slow client before old ones are dropped (the build never waits for the client). */
const MAX_QUEUED_LINES = 20_000;

export function registerEnvHandlers(registry: Registry, opts: EnvHandlerOptions): void {
  registry.stream(envsEnsure, async (p, ctx) => {
    // Output is queued and sent by one pump, so a slow client slows nothing but its own log.
    const queue: EnvLogChunk[] = [];
    let queued = 0;
    let dropped = 0;
    const waiter: { wake: (() => void) | null } = { wake: null };
    let finished = false;
    const log = (stream: EnvLogChunk['stream'], lines: string[]) => {
      const last = queue[queue.length - 1];
      if (last && last.stream === stream && last.lines.length + lines.length <= MAX_LINES_PER_CHUNK) last.lines.push(...lines);
      else queue.push({ stream, lines: [...lines] });
      queued += lines.length;
      while (queued > MAX_QUEUED_LINES && queue.length > 1) {
        const old = queue.shift()!;
        queued -= old.lines.length;
        dropped += old.lines.length;
      }
      waiter.wake?.();
    };
    const pump = (async () => {
      for (;;) {
        const next = queue.shift();
        if (next) {
          queued -= next.lines.length;
          if (dropped) {
            next.lines.unshift(`[… ${dropped} lines dropped: the client read slower than the build wrote]`);
            dropped = 0;
          }
          await ctx.send(next);
          continue;
        }
        if (finished) return;
        await new Promise<void>((r) => (waiter.wake = r));
        waiter.wake = null;
      }
    })().catch(() => {
      /* cancelled: the result path reports it */
    });
    try {
      return await ensureEnv(p, opts, log, ctx.signal);
    } finally {
      finished = true;
      waiter.wake?.();
      await pump;
    }
  });
}
