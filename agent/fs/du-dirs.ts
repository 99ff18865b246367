/**
 * fs.du with maxDepth: the total of every directory down to that depth,
 * like `du --max-depth=N` (each line counts everything below it; hard links
 * once, where first met). Entries arrive from the walk in any order; each
 * goes into the bucket of its nearest ancestor-or-self directory at depth
 * ≤ N, and at the end every bucket is added into its parent's.
 *
 * The nearest bucket comes from the entry's prefix (its parent's path and a
 * slash, one string per directory), so the map holds only the directories
 * at depth ≤ N, never the whole tree: deeper prefixes are cut to their
 * depth-N ancestor (names hold no slash), with the last answer cached
 * because a directory's entries come together.
 */
import { ProtocolError, type DuDirTotal } from '../../protocol/index.js';

/** Directories in one answer at most (a frame is ≤ 16 MiB). */
export const DU_MAX_DIRS = 50_000;

interface Bucket {
  path: string;
  raw: Buffer | undefined;
  depth: number;
  parent: Bucket | undefined;
  apparentBytes: number;
  allocatedBytes: number;
}

export class DirTotals {
  readonly #maxDepth: number;
  readonly #buckets = new Map<string, Bucket>();
  #root: Bucket | undefined;
  #rootPrefix = '';
  #lastPrefix: string | undefined;
  #lastBucket: Bucket | undefined;

  constructor(maxDepth: number) {
    this.#maxDepth = maxDepth;
  }

  /** One counted entry (after the hard-link check). */
  add(e: { path: string; prefix: string; raw: Buffer | undefined; depth: number; type: string }, apparent: number, allocated: number): void {
    let b: Bucket;
    if (e.depth === 0) {
      b = this.#root = this.#bucket(e.path, e.raw, 0, undefined);
      this.#rootPrefix = e.path.endsWith('/') ? e.path : `${e.path}/`;
    } else {
      const parent = this.#bucketOf(e.prefix, e.depth - 1);
      b = e.type === 'dir' && e.depth <= this.#maxDepth ? this.#bucket(e.path, e.raw, e.depth, parent) : parent;
    }
    b.apparentBytes += apparent;
    b.allocatedBytes += allocated;
  }

  /** Entries at `depth` below the directory with this prefix, counted together (their sizes summed). */
  addFolded(prefix: string, depth: number, apparent: number, allocated: number): void {
    const b = this.#bucketOf(prefix, depth - 1);
    b.apparentBytes += apparent;
    b.allocatedBytes += allocated;
  }

  #bucket(path: string, raw: Buffer | undefined, depth: number, parent: Bucket | undefined): Bucket {
    if (this.#buckets.size >= DU_MAX_DIRS) {
      throw new ProtocolError('TOO_LARGE', `fs.du: more than ${DU_MAX_DIRS} directories within maxDepth ${this.#maxDepth}; ask for a smaller depth`);
    }
    const b: Bucket = { path, raw: raw && Buffer.from(raw), depth, parent, apparentBytes: 0, allocatedBytes: 0 };
    this.#buckets.set(path, b);
    return b;
  }

  /** The bucket for entries whose parent directory (at `parentDepth`) has this prefix. */
  #bucketOf(prefix: string, parentDepth: number): Bucket {
    if (prefix === this.#lastPrefix) return this.#lastBucket!;
    let b: Bucket | undefined;
    if (parentDepth === 0 || this.#maxDepth === 0) b = this.#root;
    else {
      // The ancestor at depth min(parentDepth, maxDepth): the root's prefix and that many names.
      const k = Math.min(parentDepth, this.#maxDepth);
      let end = this.#rootPrefix.length - 1;
      for (let i = 0; i < k; i++) end = prefix.indexOf('/', end + 1);
      b = this.#buckets.get(prefix.slice(0, end));
    }
    // Missing only if the walk reported a child before its directory, which it never does.
    if (!b) throw new Error(`fs.du: no directory total for ${prefix}`);
    this.#lastPrefix = prefix;
    this.#lastBucket = b;
    return b;
  }

  /** Every directory's total including what is below it, descendants before their ancestors, siblings by name. */
  totals(): DuDirTotal[] {
    const all = [...this.#buckets.values()];
    for (const b of [...all].sort((x, y) => y.depth - x.depth)) {
      if (b.parent) {
        b.parent.apparentBytes += b.apparentBytes;
        b.parent.allocatedBytes += b.allocatedBytes;
      }
    }
    const key = (b: Bucket): string[] => (b.depth === 0 ? [] : b.path.slice(this.#rootPrefix.length).split('/'));
    const keyed = all.map((b) => ({ b, k: key(b) }));
    keyed.sort((x, y) => postOrder(x.k, y.k));
    return keyed.map(({ b }) => {
      const t: DuDirTotal = { path: b.path, depth: b.depth, apparentBytes: b.apparentBytes, allocatedBytes: b.allocatedBytes };
      if (b.raw) t.raw = b.raw;
      return t;
    });
  }
}

/** Name by name; a directory after everything inside it (du's order). */
function postOrder(a: string[], b: string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return b.length - a.length;
}
