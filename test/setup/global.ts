/**
 * Runs once per `vitest run`: builds the agent bundle the end-to-end tests
 * start, and brings the testbed up (real sshd, Slurm, Grid Engine on
 * loopback). CLUSTRIX_TESTBED=off skips the testbed for quick local runs of
 * unit tests; suites that need it then skip and say why (in CI that fails).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { bringUp } from '../../scripts/testbed/own.mjs';

const root = join(import.meta.dirname, '..', '..');

export default function setup(): () => void {
  if (!process.env.CLUSTRIX_SKIP_BUILD) {
    const b = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { stdio: 'inherit' });
    if (b.status !== 0) throw new Error('build failed; see above');
  }
  const components = process.env.CLUSTRIX_TESTBED ?? 'sshd,slurm,sge';
  if (components === 'off') return () => {};
  // Leave alone what was already up before this run (another run may be using it):
  // tear down only the components this run brought up (scripts/testbed/own.mjs).
  const { ok, down } = bringUp(components.split(','), 'inherit');
  if (!ok) process.stderr.write('testbed: some components failed to start; their suites will say why they skip\n');
  return down;
}
