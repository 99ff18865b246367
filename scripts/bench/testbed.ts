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
import { bringUp } from '../testbed/own.mjs';

/**
 * Bring up `needed` components (sshd, slurm, sge); returns the teardown
 * (idempotent) that stops only the components this call started.
 */
export function testbedFor(needed: string[]): () => void {
  const components = [...new Set(needed)];
  if (components.length === 0 || process.env.CLUSTRIX_TESTBED === 'off') return () => {};
  const { ok, ours, down } = bringUp(components, ['ignore', 'inherit', 'inherit']);
  if (!ok) process.stderr.write('bench: some testbed components failed to start; their parts say why they skip\n');
  if (ours.length > 0) process.stderr.write(`bench: brought up the testbed (${ours.join(', ')}); it goes down at the end\n`);
  let done = false;
  const teardown = () => {
    if (done) return;
    done = true;
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    if (process.env.CLUSTRIX_KEEP_TESTBED || ours.length === 0) return;
    process.stderr.write(`bench: tearing down what it brought up (${ours.join(', ')})\n`);
    down();
  };
  const onSignal = (sig: NodeJS.Signals) => {
    teardown();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  return teardown;
}
