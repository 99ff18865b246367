/**
 * Consecutive named phases of one connect (TCP, key exchange, auth, remote
 * exec, agent script, tunnel, hello…), so a slow connect can be explained
 * phase by phase instead of guessed at. Each mark records the milliseconds
 * since the previous mark (or since the clock was made).
 */
export interface Phase {
  /** What happened, e.g. 'tcp', 'kex', 'auth', 'exec open', 'agent script', 'tunnel', 'hello'. */
  name: string;
  /** Milliseconds it took. */
  ms: number;
}

export class PhaseClock {
  readonly phases: Phase[] = [];
  #last = performance.now();

  /** Close the current phase under `name`. */
  mark(name: string): void {
    const now = performance.now();
    this.phases.push({ name, ms: now - this.#last });
    this.#last = now;
  }
}
