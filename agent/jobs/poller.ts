/**
 * One poller per agent, for every job of every client: one batched status
 * call per scheduler per interval, whatever the number of jobs.
 *
 * Interval: 1 s for the first 10 s after a submit or cancel; otherwise a sixth
 * of the time since the last observed change, between 10 s and 30 s — so at
 * most 6 calls a minute however many jobs there are and however busy they
 * are, and 2 a minute for jobs that have been quiet for 3 minutes. Failed
 * status calls back off exponentially (2, 4, 8… up to 60 s); records are left
 * as they were.
 *
 * Between scheduler calls, the wrapper records of "hot" jobs (submitted in the
 * last minute, or waited on by a client) are read every 50-250 ms (more hot
 * jobs, longer interval: about 4 ms per job): a start or a
 * clean exit is seen at once without asking the scheduler anything.
 * While any job is watched the agent is held alive (no idle exit).
 */
export interface PollerOptions {
  /** Interval right after a submit or cancel, ms. Default 1000. */
  minIntervalMs?: number;
  /** How long the fast interval lasts after a submit or cancel, ms. Default 10 000. */
  fastWindowMs?: number;
  /** Shortest interval otherwise, ms. Default 10 000 (≤ 6 calls a minute). */
  steadyIntervalMs?: number;
  /** Slowest interval, ms. Default 30 000. */
  maxIntervalMs?: number;
  /** Longest backoff after failures, ms. Default 60 000. */
  maxBackoffMs?: number;
}

export interface IntervalOptions {
  min: number;
  fastWindow: number;
  steady: number;
  max: number;
  maxBackoff: number;
}

export const DEFAULT_INTERVALS: Readonly<IntervalOptions> = Object.freeze({ min: 1000, fastWindow: 10_000, steady: 10_000, max: 30_000, maxBackoff: 60_000 });

/** The wait before the next poll, ms. */
export function pollInterval(sinceSubmitMs: number, sinceChangeMs: number, failures: number, o: IntervalOptions = DEFAULT_INTERVALS): number {
  if (failures > 0) return Math.min(o.maxBackoff, 2000 * 2 ** (failures - 1));
  if (sinceSubmitMs < o.fastWindow) return o.min;
  return Math.round(Math.max(o.steady, Math.min(o.max, sinceChangeMs / 6)));
}

export interface PollTarget {
  /** Poll these jobs once; resolve with whether anything changed and whether a status call failed. */
  pollOnce(ids: string[]): Promise<{ changed: boolean; failed: boolean }>;
  /** Jobs worth a look at their files between scheduler calls (just submitted, or waited on). */
  hotIds?(): string[];
  /** Look at those jobs' wrapper records only (no scheduler call). */
  pollFiles?(ids: string[]): Promise<void>;
}

/** Milliseconds between looks at hot jobs' wrapper records, at most. Default 250. */
export const FILE_POLL_MS = 250;
/** …and at least: a few hot jobs are looked at this often (a function call waits on its one job). Default 50. */
export const FILE_POLL_MIN_MS = 50;

/** The look costs a record read per hot job: scale the interval with their count (4 ms each), within the bounds. */
export function filePollInterval(hot: number): number {
  return Math.max(FILE_POLL_MIN_MS, Math.min(FILE_POLL_MS, hot * 4));
}

export class Poller {
  readonly #target: PollTarget;
  readonly #hold: (() => () => void) | undefined;
  readonly #iv: IntervalOptions;
  readonly #active = new Set<string>();
  #release: (() => void) | null = null;
  #timer: NodeJS.Timeout | null = null;
  #fileTimer: NodeJS.Timeout | null = null;
  #filesRunning = false;
  #dueAt = 0;
  #running: Promise<void> | null = null;
  #again = false;
  #lastSubmitAt = Date.now();
  #lastChangeAt = Date.now();
  #failures = 0;
  #closed = false;
  polls = 0;
  intervalMs: number;

  constructor(target: PollTarget, hold?: () => () => void, o: PollerOptions = {}) {
    this.#target = target;
    this.#hold = hold;
    this.#iv = {
      min: o.minIntervalMs ?? DEFAULT_INTERVALS.min,
      fastWindow: o.fastWindowMs ?? DEFAULT_INTERVALS.fastWindow,
      steady: o.steadyIntervalMs ?? DEFAULT_INTERVALS.steady,
      max: o.maxIntervalMs ?? DEFAULT_INTERVALS.max,
      maxBackoff: o.maxBackoffMs ?? DEFAULT_INTERVALS.maxBackoff,
    };
    this.intervalMs = this.#iv.min;
  }

  get watched(): number {
    return this.#active.size;
  }

  get failures(): number {
    return this.#failures;
  }

  ids(): string[] {
    return [...this.#active];
  }

  /** Start watching a job; `fresh` (just submitted/cancelled) switches to the fast interval. */
  watch(id: string, fresh = false): void {
    this.#active.add(id);
    if (!this.#release && this.#hold) this.#release = this.#hold();
    if (fresh) this.#lastSubmitAt = this.#lastChangeAt = Date.now();
    this.#schedule(fresh ? Math.min(this.#iv.min, 250) : this.#interval());
  }

  unwatch(id: string): void {
    this.#active.delete(id);
    if (this.#active.size === 0) {
      this.#release?.();
      this.#release = null;
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = null;
      if (this.#fileTimer) clearTimeout(this.#fileTimer);
      this.#fileTimer = null;
    }
  }

  /** Something happened (a local job ended): poll once, soon. */
  poke(delayMs = 100): void {
    this.#schedule(delayMs);
  }

  /** Poll now and wait for it (jobs.get with refresh). */
  async pollNow(): Promise<void> {
    if (this.#running) await this.#running;
    await this.#tick();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#fileTimer) clearTimeout(this.#fileTimer);
    this.#fileTimer = null;
    this.#release?.();
    this.#release = null;
  }

  #interval(now = Date.now()): number {
    return pollInterval(now - this.#lastSubmitAt, now - this.#lastChangeAt, this.#failures, this.#iv);
  }

  /** Between scheduler calls, hot jobs' records are read every 50-250 ms (filePollInterval): a clean exit is seen at once, for free. */
  #scheduleFiles(): void {
    if (this.#fileTimer || this.#closed || !this.#target.pollFiles || this.#active.size === 0) return;
    this.#fileTimer = setTimeout(
      () => {
        this.#fileTimer = null;
        const hot = (this.#target.hotIds?.() ?? []).filter((id) => this.#active.has(id));
        if (hot.length === 0 || this.#filesRunning || this.#running) {
          if (hot.length) this.#scheduleFiles();
          return;
        }
        this.#filesRunning = true;
        this.#target.pollFiles!(hot)
          .catch(() => {})
          .finally(() => {
            this.#filesRunning = false;
            this.#scheduleFiles();
          });
      },
      filePollInterval(this.#target.hotIds?.().length ?? 0),
    );
  }

  #schedule(delayMs: number): void {
    this.#scheduleFiles();
    if (this.#closed || this.#active.size === 0) return;
    const due = Date.now() + delayMs;
    if (this.#timer && this.#dueAt <= due) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#dueAt = due;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#tick();
    }, delayMs);
  }

  #tick(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        const ids = [...this.#active];
        if (ids.length === 0) break;
        this.polls++;
        try {
          const r = await this.#target.pollOnce(ids);
          if (r.changed) this.#lastChangeAt = Date.now();
          this.#failures = r.failed ? this.#failures + 1 : 0;
        } catch {
          this.#failures++;
        }
      } while (this.#again && !this.#closed);
    })().finally(() => {
      this.#running = null;
      this.intervalMs = this.#interval();
      this.#schedule(this.intervalMs);
    });
    return this.#running;
  }
}
