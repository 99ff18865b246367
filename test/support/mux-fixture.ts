/**
 * What the mux tests share: each test gets a temp dir whose `run` is the
 * run dir (CLUSTRIX_RUN_DIR, so the mux dir is inside it), a local agent
 * environment, and its mux servers closed afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { afterEach, beforeEach } from 'vitest';
import type { MuxServer } from '../../client/mux/server.js';
import { localEnv, type LocalEnv } from './local-agent.js';

export interface MuxFixture {
  /** The test's local agent environment. */
  env: LocalEnv;
  /** The test's temp dir; `${base}/run` is the run dir. */
  base: string;
  /** Push the test's servers here: closed after each test. */
  servers: MuxServer[];
}

/** Register the per-test set-up and tear-down; read the fields inside tests. */
export function useMuxFixture(prefix: string): MuxFixture {
  const fx = { servers: [] } as unknown as MuxFixture;
  let saved: string | undefined;
  beforeEach(() => {
    fx.base = mkdtempSync(prefix);
    saved = process.env.CLUSTRIX_RUN_DIR;
    process.env.CLUSTRIX_RUN_DIR = `${fx.base}/run`;
    fx.env = localEnv();
  });
  afterEach(async () => {
    for (const s of fx.servers.splice(0)) s.close('test over');
    if (saved === undefined) delete process.env.CLUSTRIX_RUN_DIR;
    else process.env.CLUSTRIX_RUN_DIR = saved;
    await fx.env.cleanup();
    rmSync(fx.base, { recursive: true, force: true });
  });
  return fx;
}
