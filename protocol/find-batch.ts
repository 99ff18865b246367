/**
 * The wire shape of fs.find and fs.glob chunks: a batch of entries as
 * columns, not as one map per entry.
 *
 * A walk sends hundreds of thousands of entries. As maps, every entry costs
 * its keys, a string, and an object on both sides; the profile of a 200k
 * walk had msgpack map encoding and decoding as the largest items on the
 * agent and the client. As columns, each path is a directory prefix (sent
 * once per batch) plus a name, prefixes and names each one string joined by
 * NUL (which no path contains), types and depths are small arrays, and the
 * rare parts (raw bytes of non-UTF-8 paths, errors, stat fields) are sparse.
 * The bench's 200k-entry walk is 4.4 MB on the wire this way, 25 MB with
 * whole paths, 29 MB as one map per entry.
 *
 * Pure data, no I/O. `FindBatchWriter` builds a batch without an object per
 * entry; `readFindBatch` turns one back into FindEntry objects, checking the
 * shape first (a malformed batch is a protocol error, not a crash later).
 */
import { ProtocolError, type WireError } from './errors.js';
import { growFor, indexedPairs, isBytes, typeIndex } from './columns.js';
import { isRecord } from './json-record.js';
import { FILE_TYPES, type FileInfo, type FileType, type FindEntry } from './types/fs.js';

/** The stat fields a find entry carries with `stat: true`. */
export type EntryStat = Omit<FileInfo, 'type' | 'target' | 'targetRaw'>;

/** One chunk of fs.find / fs.glob. Entry i has path `prefixes[dirs[i]] + names[i]`, types[i], depths[i]. */
export interface FindBatch {
  /** The batch's distinct path prefixes (directories with their trailing slash; "" for whole paths) joined by "\0". */
  prefixes: string;
  /** Per entry, the index of its prefix. */
  dirs: number[];
  /** Per entry, the rest of its path after the prefix, joined by "\0". */
  names: string;
  /** Per entry, its type as an index into FILE_TYPES. */
  types: Uint8Array;
  /** Per entry, its depth (0 for the root). */
  depths: number[];
  /** [entry index, exact path bytes] for paths that are not valid UTF-8. */
  raw?: [number, Uint8Array][];
  /** [entry index, error] for entries that could not be read. */
  errors?: [number, WireError][];
  /** With `stat: true`: per entry its stat fields, null for error entries. */
  stat?: (EntryStat | null)[];
}

/** Builds one FindBatch at a time. */
export class FindBatchWriter {
  #prefixes: string[] = [];
  #lastPrefix: string | undefined;
  #dirs: number[] = [];
  #names: string[] = [];
  #types = new Uint8Array(256);
  #depths: number[] = [];
  #raw: [number, Uint8Array][] | undefined;
  #errors: [number, WireError][] | undefined;
  #stat: (EntryStat | null)[] | undefined;

  /** Entries in the batch being built. */
  get length(): number {
    return this.#names.length;
  }

  /**
   * Add an entry whose path is `prefix + name`. Entries of one directory
   * should pass the same prefix string (it is stored once per run of them).
   * `stat` only for walks with stat: true (then every entry but errors has one).
   */
  add(prefix: string, name: string, type: FileType, depth: number, raw?: Uint8Array, error?: WireError, stat?: EntryStat): void {
    const i = this.#names.length;
    if (prefix !== this.#lastPrefix) {
      this.#lastPrefix = prefix;
      this.#prefixes.push(prefix);
    }
    this.#dirs.push(this.#prefixes.length - 1);
    this.#names.push(name);
    this.#types = growFor(this.#types, i);
    this.#types[i] = typeIndex(type);
    this.#depths.push(depth);
    if (raw !== undefined) (this.#raw ??= []).push([i, raw]);
    if (error !== undefined) (this.#errors ??= []).push([i, error]);
    if (stat !== undefined) {
      this.#stat ??= new Array<EntryStat | null>(i).fill(null);
      this.#stat.push(stat);
    } else if (this.#stat) this.#stat.push(null);
  }

  /** Add a FindEntry as it is (glob builds whole entries). */
  addEntry(e: FindEntry): void {
    this.add('', e.path, e.type, e.depth, e.raw, e.error);
  }

  /** The batch built so far; the writer starts a new one. */
  take(): FindBatch {
    const n = this.#names.length;
    const b: FindBatch = {
      prefixes: this.#prefixes.join('\0'),
      dirs: this.#dirs,
      names: this.#names.join('\0'),
      types: this.#types.slice(0, n),
      depths: this.#depths,
    };
    if (this.#raw) b.raw = this.#raw;
    if (this.#errors) b.errors = this.#errors;
    if (this.#stat) b.stat = this.#stat;
    this.clear();
    return b;
  }

  /** Drop the batch being built. */
  clear(): void {
    this.#prefixes = [];
    this.#lastPrefix = undefined;
    this.#dirs = [];
    this.#names = [];
    this.#depths = [];
    this.#raw = undefined;
    this.#errors = undefined;
    this.#stat = undefined;
  }
}

function bad(what: string): never {
  throw new ProtocolError('PROTOCOL', `bad fs.find batch: ${what}`);
}

function indexed<T>(v: unknown, n: number, field: string, ok: (x: unknown) => x is T): [number, T][] {
  return indexedPairs(v, n, field, ok, bad);
}

const isWireError = (x: unknown): x is WireError => isRecord(x) && typeof x.code === 'string' && typeof x.message === 'string';

/** The entries of a batch, in order. Throws ProtocolError when the batch is malformed. */
export function readFindBatch(b: unknown): FindEntry[] {
  if (
    !isRecord(b) ||
    typeof b.prefixes !== 'string' ||
    typeof b.names !== 'string' ||
    !Array.isArray(b.dirs) ||
    !(b.types instanceof Uint8Array) ||
    !Array.isArray(b.depths)
  ) {
    bad('expected { prefixes: string, dirs: number[], names: string, types: bytes, depths: number[] }');
  }
  const types = b.types;
  const depths = b.depths as unknown[];
  const dirs = b.dirs as unknown[];
  const n = types.length;
  if (n === 0) return [];
  const prefixes = b.prefixes.split('\0');
  const names = b.names.split('\0');
  if (names.length !== n || dirs.length !== n || depths.length !== n)
    bad(`${n} types but ${names.length} names, ${dirs.length} dirs and ${depths.length} depths`);
  const out = new Array<FindEntry>(n);
  for (let i = 0; i < n; i++) {
    const type = FILE_TYPES[types[i]!];
    const depth = depths[i];
    const prefix = prefixes[dirs[i] as number];
    if (type === undefined || typeof depth !== 'number' || prefix === undefined) bad(`entry ${i} has a bad type, depth or prefix`);
    out[i] = { path: prefix + names[i]!, type, depth };
  }
  if (b.raw !== undefined) for (const [i, raw] of indexed(b.raw, n, 'raw', isBytes)) out[i]!.raw = raw;
  if (b.errors !== undefined) for (const [i, error] of indexed(b.errors, n, 'errors', isWireError)) out[i]!.error = error;
  if (b.stat !== undefined) {
    if (!Array.isArray(b.stat) || b.stat.length !== n) bad('"stat" must have one slot per entry');
    for (let i = 0; i < n; i++) {
      const s: unknown = b.stat[i];
      if (s === null) continue;
      if (!isRecord(s)) bad(`stat ${i} must be a map or null`);
      Object.assign(out[i]!, s);
    }
  }
  return out;
}
