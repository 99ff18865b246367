/** Types for own.mjs (plain ESM: the testbed runs before anything is built). */
import type { StdioOptions } from 'node:child_process';

export interface BroughtUp {
  /** `up` exited 0 (a component that cannot run here is recorded as skipped, which is still 0). */
  ok: boolean;
  /** Components this call started: the ones `down` stops. */
  ours: string[];
  /** Stop `ours` (nothing with CLUSTRIX_KEEP_TESTBED set). */
  down(): void;
}

export function bringUp(components: string[], stdio: StdioOptions): BroughtUp;
