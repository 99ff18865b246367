/**
 * The wire shape of fs.ls chunks: a batch of directory entries as columns,
 * not as one map per entry.
 *
 * As maps, each entry of `ls -l` was fifteen keys to encode on the agent and
 * to decode (and check) on the client: for a 1,000-entry directory ~1.4 ms of
 * the agent's time and ~2.6 ms of the client's, more than the lstat calls
 * themselves. As columns, the names are one string joined by NUL (which no
 * name contains), the types one byte each, and with stat the fields are an
 * fs.statMany answer (numbers in a flat array, owner and group names once per
 * id, symlink targets and failures sparse).
 *
 * Pure data, no I/O. `LsBatchWriter` builds a batch; `readLsBatch` turns one
 * back into DirEntry objects, checking the shape first (a malformed batch is
 * a protocol error, not a crash later).
 */
import { ProtocolError } from './errors.js';
import { growFor, indexedPairs, isBytes, typeIndex } from './columns.js';
import { isRecord } from './json-record.js';
import { readStatMany, StatManyWriter, type StatManyResult } from './methods/fs-batch.js';
import { FILE_TYPES, type DirEntry, type FileType } from './types/fs.js';

/** One chunk of fs.ls. Entry i is `names[i]` with `types[i]`, and with stat slot i of `stat`. */
export interface LsBatch {
  /** The entries' names joined by "\0" (lossy where not UTF-8: see raw). */
  names: string;
  /** Per entry its type as an index into FILE_TYPES: lstat's, or the directory's d_type when there is no stat. */
  types: Uint8Array;
  /** [entry index, exact name bytes] for names that are not valid UTF-8. */
  raw?: [number, Uint8Array][];
  /** With stat: the entries' lstat as fs.statMany answers it; a failed slot is that entry's error. */
  stat?: StatManyResult;
}

/** Builds one LsBatch at a time. */
export class LsBatchWriter {
  readonly #withStat: boolean;
  #names: string[] = [];
  #types = new Uint8Array(256);
  #raw: [number, Uint8Array][] | undefined;
  #stat: StatManyWriter | undefined;

  constructor(withStat: boolean) {
    this.#withStat = withStat;
    if (withStat) this.#stat = new StatManyWriter();
  }

  /** Entries in the batch being built. */
  get length(): number {
    return this.#names.length;
  }

  /** Add an entry; its index in the batch. With stat, fill its slot through `stat` before the batch is taken. */
  add(name: string, type: FileType, raw?: Uint8Array): number {
    const i = this.#names.length;
    this.#names.push(name);
    this.#types = growFor(this.#types, i);
    this.#types[i] = typeIndex(type);
    if (raw !== undefined) (this.#raw ??= []).push([i, raw]);
    return i;
  }

  /** The stat columns of the batch being built (with stat only). */
  get stat(): StatManyWriter {
    if (!this.#stat) throw new Error('LsBatchWriter: built without stat');
    return this.#stat;
  }

  /** The batch built so far; the writer starts a new one. */
  take(): LsBatch {
    const n = this.#names.length;
    const b: LsBatch = { names: this.#names.join('\0'), types: this.#types.slice(0, n) };
    if (this.#raw) b.raw = this.#raw;
    if (this.#stat) {
      // Every entry has a slot, even when the last ones were never stat'ed (they read as failed without an error: malformed).
      b.stat = this.#stat.result();
    }
    this.clear();
    return b;
  }

  /** Drop the batch being built. */
  clear(): void {
    this.#names = [];
    this.#types = new Uint8Array(256);
    this.#raw = undefined;
    if (this.#withStat) this.#stat = new StatManyWriter();
  }
}

function bad(what: string): never {
  throw new ProtocolError('PROTOCOL', `bad fs.ls batch: ${what}`);
}

/** The entries of a batch, in order. Throws ProtocolError when the batch is malformed. */
export function readLsBatch(b: unknown): DirEntry[] {
  if (!isRecord(b) || typeof b.names !== 'string' || !(b.types instanceof Uint8Array)) bad('expected { names: string, types: bytes }');
  const types = b.types;
  const n = types.length;
  if (n === 0) return [];
  const names = b.names.split('\0');
  if (names.length !== n) bad(`${n} types but ${names.length} names`);
  const out = new Array<DirEntry>(n);
  for (let i = 0; i < n; i++) {
    const type = FILE_TYPES[types[i]!];
    if (type === undefined) bad(`entry ${i} has an unknown type ${types[i]}`);
    out[i] = { name: names[i]!, type };
  }
  if (b.raw !== undefined) for (const [k, raw] of indexedPairs(b.raw, n, 'raw', isBytes, bad)) out[k]!.raw = raw;
  if (b.stat !== undefined) {
    let items;
    try {
      items = readStatMany(b.stat, n);
    } catch (err) {
      bad((err as Error).message);
    }
    for (let i = 0; i < n; i++) {
      const it = items[i]!;
      if ('error' in it) out[i]!.error = it.error;
      else Object.assign(out[i]!, it);
    }
  }
  return out;
}
