/**
 * Operands of the commands that take several (ls, stat, du, cat, find, count): each is
 * `host:path`, `local:path` or a local path; one connection per host; a
 * pattern is expanded on its host the way the remote shell of
 * `ssh host ls 'dir/*.log'` would (bash: sorted matches, and a pattern that
 * matches nothing is passed on as is, so the command reports it missing).
 * A relative local path is relative to the working directory (target.ts).
 * Results come back in operand order, each path's value or its error: one
 * bad operand does not stop the others, as with the GNU tools.
 */
import type { Cluster } from '../cluster.js';
import { RemoteError } from '../errors.js';
import { describeError, EXIT, exitCodeFor } from './exit.js';
import { hostHint } from './host-hint.js';
import type { ClusterFor } from './session.js';
import { localPath, parseTarget } from './target.js';

const GLOB_CHARS = /[*?[]/;

export const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** One path an operand stands for (as written, what GNU tools print), with what the command made of it. */
export type Outcome<T> = { host: string; path: string } & ({ value: T } | { error: unknown });

/**
 * The operand's paths on its host, as written: a pattern's matches, sorted;
 * else the path itself. A relative local pattern matches under this
 * process's working directory, a remote one under the home directory.
 */
export async function expandOnHost(c: Cluster, host: string, path: string, signal: AbortSignal): Promise<string[]> {
  if (!GLOB_CHARS.test(path)) return [path];
  let matches: string[];
  try {
    const o: { signal: AbortSignal; cwd?: string } = { signal };
    if (host === 'local') o.cwd = process.cwd();
    matches = (await c.fs.glob(path, o).toArray()).filter((e) => !e.error).map((e) => e.path);
  } catch (err) {
    // Not a pattern glob takes (e.g. an unclosed `[`): bash, too, reads it as a plain name.
    if (err instanceof RemoteError && err.code === 'INVALID_PARAMS') return [path];
    throw err;
  }
  return matches.length ? matches.sort(byCodePoint) : [path];
}

/**
 * What the command does with one path: `path` to ask the agent about, `shown` as the user wrote it (they
 * differ for a relative local path), on `host`.
 */
export type EachPath<T> = (c: Cluster, path: string, shown: string, host: string) => Promise<T>;

async function outcomesOf<T>(operand: string, get: ClusterFor, signal: AbortSignal, each: EachPath<T>, concurrent: boolean): Promise<Outcome<T>[]> {
  const { host, path } = parseTarget(operand);
  try {
    const c = await get(host);
    const paths = await expandOnHost(c, host, path, signal);
    const one = (p: string): Promise<Outcome<T>> =>
      each(c, host === 'local' ? localPath(p) : p, p, host).then(
        (value): Outcome<T> => ({ host, path: p, value }),
        (error: unknown): Outcome<T> => ({ host, path: p, error }),
      );
    if (concurrent) return await Promise.all(paths.map(one));
    const out: Outcome<T>[] = [];
    for (const p of paths) out.push(await one(p));
    return out;
  } catch (error) {
    return [{ host, path, error }];
  }
}

/**
 * `each` for every path of every operand, yielded in operand order. With
 * `concurrent`, every path starts at once (calls to one host share its
 * connection and are pipelined); without, one after the other, a pattern's
 * matches too (cat streams each file whole, du shows one walk's progress).
 */
export async function* perPath<T>(
  operands: readonly string[],
  get: ClusterFor,
  signal: AbortSignal,
  each: EachPath<T>,
  o: { concurrent: boolean },
): AsyncGenerator<Outcome<T>> {
  if (o.concurrent) {
    // Started together; none rejects (errors are outcomes), so awaiting them in turn leaves none unhandled.
    const all = operands.map((op) => outcomesOf(op, get, signal, each, true));
    for (const p of all) yield* await p;
    return;
  }
  for (const op of operands) yield* await outcomesOf(op, get, signal, each, false);
}

/**
 * Print an operand's failure the way withCluster prints a command's (with a hint when a bare word was
 * meant as a host); its exit code. An agent's error on a host is prefixed with the host: it names the
 * path, and the operands may span hosts.
 */
export function reportFailure(err: unknown, where?: { host: string; path: string }): number {
  const on = where && where.host !== 'local' && err instanceof RemoteError ? `${where.host}: ` : '';
  process.stderr.write(`clustrix: ${on}${describeError(err)}${where ? hostHint(where, err) : ''}\n`);
  return exitCodeFor(err);
}

/** The command's exit code so far and a new one: the first failure wins. */
export const firstFailure = (code: number, next: number): number => (code === EXIT.OK ? next : code);

/** Whether the operands name more than one host (then printed paths say which). */
export function manyHosts(operands: readonly string[]): boolean {
  return new Set(operands.map((op) => parseTarget(op).host)).size > 1;
}

/** A path as printed: `host:path` when the operands span hosts and this one is remote. */
export function shownPath(o: { host: string; path: string }, qualify: boolean): string {
  return qualify && o.host !== 'local' ? `${o.host}:${o.path}` : o.path;
}
