/**
 * `clustrix ls` with GNU ls's handling of operands: a directory is listed, a
 * file (or anything else) is named; files come first, then each directory
 * under a `path:` header when there is more than one operand, sections
 * sorted by name (or -t, -S, -r) and separated by a blank line; -l starts
 * each directory with its `total`; -d names directories instead of listing
 * them. Every operand is asked for
 * at once, so several on one host cost about one round trip.
 *
 * --json: one operand prints the array of its entries (a file: an array of
 * that one entry); several print one JSON line per path,
 * `{ path, entries }` or `{ path, error }`.
 */
import type { DirEntry, FileInfo } from '../../protocol/index.js';
import type { Cluster } from '../cluster.js';
import { RemoteError } from '../errors.js';
import { EXIT } from './exit.js';
import { humanSize, json, lsLong, shellQuoteForDisplay } from './format.js';
import { byCodePoint, firstFailure, manyHosts, perPath, reportFailure, shownPath, type Outcome } from './operands.js';
import { out, type ClusterFor, type GlobalOptions } from './session.js';

export interface LsFlags {
  long?: boolean;
  all?: boolean;
  human?: boolean;
  /** -t: newest first. */
  t?: boolean;
  /** -S: largest first. */
  S?: boolean;
  reverse?: boolean;
  directory?: boolean;
}

/** GNU ls's order: by name, or newest (-t) / largest (-S) first with ties by name; -r reverses it. */
function entryOrder(o: LsFlags): (a: DirEntry, b: DirEntry) => number {
  const key = o.S ? (e: DirEntry) => -(e.size ?? 0) : o.t ? (e: DirEntry) => -(e.mtimeMs ?? 0) : undefined;
  const cmp = (a: DirEntry, b: DirEntry): number => (key && key(a) !== key(b) ? key(a) - key(b) : byCodePoint(a.name, b.name));
  return o.reverse ? (a, b) => cmp(b, a) : cmp;
}

/** `total` of ls -l: the entries' allocated size in KiB (rounded up), or human-readable with -h. */
function totalLine(entries: DirEntry[], human: boolean): string {
  const bytes = entries.reduce((n, e) => n + (e.blocks ?? 0) * 512, 0);
  return `total ${human ? humanSize(bytes) : Math.ceil(bytes / 1024)}`;
}

/** A directory's entries (with its own stat when -t/-S sort the directories too), or a file. */
type Listed = { dir: DirEntry[]; self?: FileInfo } | { file: DirEntry };

/**
 * A directory's entries, or the operand itself when it is not a directory or
 * with -d (1 round trip, 2 for a file). `sortByStat`: -t/-S order directory
 * operands too, by their own stat, asked for alongside.
 */
async function listOne(c: Cluster, path: string, stat: boolean, self: boolean, sortByStat: boolean, signal: AbortSignal): Promise<Listed> {
  if (!self) {
    try {
      if (!sortByStat) return { dir: await c.fs.ls(path, { signal, stat }) };
      const own = c.fs.stat(path, { signal });
      own.catch(() => {}); // ls's error is the one to report
      const dir = await c.fs.ls(path, { signal, stat });
      return { dir, self: await own };
    } catch (err) {
      if (!(err instanceof RemoteError && err.code === 'ENOTDIR')) throw err;
    }
  }
  return { file: { name: path, ...(await c.fs.lstat(path, { signal })) } };
}

export async function listCommand(operands: string[], o: LsFlags, g: GlobalOptions, get: ClusterFor, signal: AbortSignal): Promise<number> {
  const qualify = manyHosts(operands);
  const results: Outcome<Listed>[] = [];
  const stat = Boolean(o.long || g.json || o.t || o.S);
  const each = (c: Cluster, path: string) => listOne(c, path, stat, Boolean(o.directory), Boolean(o.t || o.S), signal);
  for await (const r of perPath(operands, get, signal, each, { concurrent: true })) {
    results.push(r);
  }
  if (signal.aborted) return EXIT.INTERRUPTED;

  let code: number = EXIT.OK;
  const order = entryOrder(o);
  const visible = (entries: DirEntry[]) => entries.filter((e) => o.all || !e.name.startsWith('.')).sort(order);
  const files: DirEntry[] = [];
  const dirs: (DirEntry & { entries: DirEntry[] })[] = [];
  for (const r of results) {
    if ('error' in r) {
      code = firstFailure(code, reportFailure(r.error, r));
      continue;
    }
    const shown = shownPath(r, qualify);
    if ('file' in r.value) files.push({ ...r.value.file, name: shown });
    else {
      const entries = visible(r.value.dir);
      for (const e of entries) if (e.error) process.stderr.write(`clustrix ls: ${e.name}: ${e.error.message}\n`);
      if (entries.some((e) => e.error)) code = firstFailure(code, EXIT.FAILED);
      dirs.push({ ...r.value.self, type: 'dir', name: shown, entries });
    }
  }
  files.sort(order);
  dirs.sort(order);

  if (g.json) {
    if (results.length === 1) {
      const only = files.length ? files : (dirs[0]?.entries ?? null);
      if (only) await out(json(only) + '\n');
      return code;
    }
    for (const r of results) {
      const path = shownPath(r, qualify);
      if ('error' in r) {
        const e = r.error;
        await out(
          json({ path, error: e instanceof RemoteError ? { code: e.code, message: e.message } : { message: String((e as Error).message ?? e) } }) + '\n',
        );
      } else await out(json({ path, entries: 'file' in r.value ? [{ ...r.value.file, name: path }] : visible(r.value.dir) }) + '\n');
    }
    return code;
  }

  const tty = process.stdout.isTTY;
  const lines = (entries: DirEntry[]) =>
    o.long ? lsLong(entries, { human: Boolean(o.human), tty }) : entries.map((e) => (tty ? shellQuoteForDisplay(e.name) : e.name));
  const sections: string[][] = [];
  if (files.length) sections.push(lines(files));
  const headers = results.length > 1;
  for (const d of dirs) {
    const body = o.long ? [totalLine(d.entries, Boolean(o.human)), ...lines(d.entries)] : lines(d.entries);
    sections.push(headers ? [`${d.name}:`, ...body] : body);
  }
  const text = sections.map((s) => s.join('\n')).filter((s) => s !== '');
  if (text.length) await out(text.join('\n\n') + '\n');
  return code;
}
