/** Connect for one CLI command (one connection per host it names), with Ctrl-C cancelling the work in flight. */
import { setMaxListeners } from 'node:events';
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
  return withClusters(g, async (get, signal) => fn(await get(host), signal));
}

/** Connects on first use, once per host, for a command with operands on several hosts. Rejects as connect() does. */
export type ClusterFor = (host: string) => Promise<Cluster>;

/**
 * Like withCluster, for commands whose operands may name several hosts: `get(host)`
 * connects once per host (concurrent callers share the attempt); every
 * connection is closed at the end. A connect failure is the caller's to
 * report per operand; one that escapes `fn` is reported like withCluster's.
 */
export async function withClusters(g: GlobalOptions, fn: (get: ClusterFor, signal: AbortSignal) => Promise<number | void>): Promise<number> {
  const ac = new AbortController();
  // Every call in flight listens on this signal: `ls 'host:dir/*'` may have hundreds at once, which is no leak.
  setMaxListeners(0, ac.signal);
  const onSigint = () => {
    if (ac.signal.aborted) process.exit(EXIT.INTERRUPTED);
    ac.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onSigint);
  const clusters = new Map<string, Promise<Cluster>>();
  const get: ClusterFor = (host) => {
    let p = clusters.get(host);
    if (!p) {
      const opts: Parameters<typeof connect>[1] = { clientName: 'clustrix-cli', signal: ac.signal, persistMs: persistMsFromEnv() };
      if (g.root) opts.root = g.root;
      if (g.runDir) opts.runDir = g.runDir;
      p = connect(host, opts);
      p.catch(() => {}); // reported by whoever awaits it
      clusters.set(host, p);
    }
    return p;
  };
  try {
    const code = await fn(get, ac.signal);
    return typeof code === 'number' ? code : EXIT.OK;
  } catch (err) {
    if (ac.signal.aborted) return EXIT.INTERRUPTED;
    process.stderr.write(`clustrix: ${describeError(err)}\n`);
    return exitCodeFor(err);
  } finally {
    process.off('SIGINT', onSigint);
    await Promise.all([...clusters.values()].map((p) => p.then((c) => c.close()).catch(() => {})));
  }
}

/** Write to stdout respecting backpressure (a `| head` closes the pipe early). */
export function out(s: string): Promise<void> | void {
  if (!process.stdout.write(s)) return new Promise((r) => process.stdout.once('drain', () => r()));
}
