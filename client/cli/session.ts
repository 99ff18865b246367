/** Connect for one CLI command, with Ctrl-C cancelling the work in flight. */
import { connect } from '../index.js';
import type { Cluster } from '../cluster.js';
import { describeError, EXIT, exitCodeFor } from './exit.js';
import { persistMsFromEnv } from './mux-commands.js';

export interface GlobalOptions {
  json?: boolean;
  root?: string;
  runDir?: string;
}

export async function withCluster(host: string, g: GlobalOptions, fn: (c: Cluster, signal: AbortSignal) => Promise<number | void>): Promise<number> {
  const ac = new AbortController();
  const onSigint = () => {
    if (ac.signal.aborted) process.exit(EXIT.INTERRUPTED);
    ac.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onSigint);
  let cluster: Cluster | null = null;
  try {
    const opts: Parameters<typeof connect>[1] = { clientName: 'clustrix-cli', signal: ac.signal, persistMs: persistMsFromEnv() };
    if (g.root) opts.root = g.root;
    if (g.runDir) opts.runDir = g.runDir;
    cluster = await connect(host, opts);
    const code = await fn(cluster, ac.signal);
    return typeof code === 'number' ? code : EXIT.OK;
  } catch (err) {
    if (ac.signal.aborted) return EXIT.INTERRUPTED;
    process.stderr.write(`clustrix: ${describeError(err)}\n`);
    return exitCodeFor(err);
  } finally {
    process.off('SIGINT', onSigint);
    await cluster?.close().catch(() => {});
  }
}

/** Write to stdout respecting backpressure (a `| head` closes the pipe early). */
export function out(s: string): Promise<void> | void {
  if (!process.stdout.write(s)) return new Promise((r) => process.stdout.once('drain', () => r()));
}
