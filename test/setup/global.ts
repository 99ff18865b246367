/**
 * Runs once per `vitest run`: builds the agent bundle the end-to-end tests
 * start, and brings the testbed up (real sshd, Slurm, Grid Engine on
 * loopback). CLUSTRIX_TESTBED=off skips the testbed for quick local runs of
 * unit tests; suites that need it then skip and say why (in CI that fails).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

export default function setup(): () => void {
  if (!process.env.CLUSTRIX_SKIP_BUILD) {
    const b = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { stdio: 'inherit' });
    if (b.status !== 0) throw new Error('build failed; see above');
  }
  const components = process.env.CLUSTRIX_TESTBED ?? 'sshd,slurm,sge';
  if (components === 'off') return () => {};
  // Leave alone what was already up before this run (another run may be using it):
  // tear down only the components this run brought up — those whose recorded state
  // `up` wrote anew (a state.json left by an earlier session whose processes are gone
  // is restarted, and is then ours).
  const before = readState();
  const up = spawnSync(process.execPath, [join(root, 'scripts/testbed/index.mjs'), 'up', components], { stdio: 'inherit' });
  if (up.status !== 0) process.stderr.write('testbed: some components failed to start; their suites will say why they skip\n');
  const after = readState();
  const ours = components.split(',').filter((c) => after[c] && JSON.stringify(after[c]) !== JSON.stringify(before[c]));
  return () => {
    if (process.env.CLUSTRIX_KEEP_TESTBED || ours.length === 0) return;
    spawnSync(process.execPath, [join(root, 'scripts/testbed/index.mjs'), 'down', ours.join(',')], { stdio: 'inherit' });
  };
}

function readState(): Record<string, { skipped?: string } | undefined> {
  try {
    return JSON.parse(readFileSync(join(root, '.testbed', 'state.json'), 'utf8')) as Record<string, { skipped?: string }>;
  } catch {
    return {};
  }
}
