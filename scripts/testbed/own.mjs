// Bring testbed components up for one run (the test run, the bench) and take
// down afterwards only those this run started. Whatever was already up is
// left alone: another run may be using it. "Started by this run" is what
// `up` recorded anew in state.json; a state.json left by an earlier session
// whose processes are gone is restarted by `up`, and is then this run's.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT, readState } from './common.mjs';

const INDEX = join(PROJECT_ROOT, 'scripts', 'testbed', 'index.mjs');

/**
 * @param {string[]} components
 * @param {import('node:child_process').StdioOptions} stdio
 * @returns {{ ok: boolean, ours: string[], down: () => void }}
 */
export function bringUp(components, stdio) {
  const before = readState();
  const up = spawnSync(process.execPath, [INDEX, 'up', components.join(',')], { stdio });
  const after = readState();
  const ours = components.filter((c) => after[c] && JSON.stringify(after[c]) !== JSON.stringify(before[c]));
  const down = () => {
    if (process.env.CLUSTRIX_KEEP_TESTBED || ours.length === 0) return;
    spawnSync(process.execPath, [INDEX, 'down', ours.join(',')], { stdio });
  };
  return { ok: up.status === 0, ours, down };
}
