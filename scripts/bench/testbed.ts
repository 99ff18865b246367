/**
 * The bench brings up the testbed components its parts need, as the test run
 * does (test/setup/global.ts): whatever was already up is left alone (another
 * run may be using it), and only what this run started is torn down at the
 * end — also on Ctrl-C. A component that cannot run on this machine is
 * recorded as skipped with the reason, and the part that needs it says so.
 *
 *   CLUSTRIX_TESTBED=off        do not touch the testbed (parts skip and say why)
 *   CLUSTRIX_KEEP_TESTBED=1     leave up what this run started
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const testbed = join(root, 'scripts', 'testbed', 'index.mjs');
const stateFile = join(process.env.CLUSTRIX_TESTBED_DIR ?? join(root, '.testbed'), 'state.json');

function readState(): Record<string, { skipped?: string } | undefined> {
  try {
    return JSON.parse(readFileSync(stateFile, 'utf8')) as Record<string, { skipped?: string }>;
  } catch {
    return {};
  }
}

/**
 * Bring up `needed` components (sshd, slurm, sge); returns the teardown
 * (idempotent) that stops only the components this call started.
 */
export function testbedFor(needed: string[]): () => void {
  const components = [...new Set(needed)];
  if (components.length === 0 || process.env.CLUSTRIX_TESTBED === 'off') return () => {};
  const before = readState();
  const running = components.filter((c) => before[c] && !before[c].skipped);
  if (running.length < components.length) process.stderr.write(`bench: bringing up the testbed (${components.join(', ')})…\n`);
  const up = spawnSync(process.execPath, [testbed, 'up', components.join(',')], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (up.status !== 0) process.stderr.write('bench: some testbed components failed to start; their parts say why they skip\n');
  // Ours: what `up` recorded anew (a stale state.json whose processes are gone is restarted, then ours).
  const after = readState();
  const ours = components.filter((c) => after[c] && JSON.stringify(after[c]) !== JSON.stringify(before[c]));
  let done = false;
  const teardown = () => {
    if (done) return;
    done = true;
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    if (process.env.CLUSTRIX_KEEP_TESTBED || ours.length === 0) return;
    process.stderr.write(`bench: tearing down what it brought up (${ours.join(', ')})\n`);
    spawnSync(process.execPath, [testbed, 'down', ours.join(',')], { stdio: ['ignore', 'inherit', 'inherit'] });
  };
  const onSignal = (sig: NodeJS.Signals) => {
    teardown();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  return teardown;
}
