/**
 * Pieces the column-shaped answers share (find-batch.ts, ls-batch.ts,
 * methods/fs-batch.ts): a file type as its byte, a byte column that grows as
 * entries are added, and the check of sparse `[index, value]` pairs.
 */
import { FILE_TYPES, type FileType } from './types/fs.js';

const TYPE_INDEX: ReadonlyMap<FileType, number> = new Map(FILE_TYPES.map((t, i) => [t, i]));

/** A file type's index in FILE_TYPES (7, unknown, for anything else). */
export function typeIndex(type: FileType): number {
  return TYPE_INDEX.get(type) ?? 7;
}

/** `a`, or a copy twice as long (new bytes `fill`), so that index `i` exists. */
export function growFor(a: Uint8Array<ArrayBuffer>, i: number, fill = 0): Uint8Array<ArrayBuffer> {
  if (i < a.length) return a;
  const grown = new Uint8Array(Math.max(i + 1, a.length * 2));
  if (fill !== 0) grown.fill(fill);
  grown.set(a);
  return grown;
}

/** `v` as `[index < n, value]` pairs whose values pass `ok`; else `bad` is told which field is wrong. */
export function indexedPairs<T>(v: unknown, n: number, field: string, ok: (x: unknown) => x is T, bad: (what: string) => never): [number, T][] {
  if (!Array.isArray(v)) bad(`"${field}" must be an array of [index, value] pairs`);
  for (const p of v) {
    if (!Array.isArray(p) || p.length !== 2 || !Number.isInteger(p[0]) || p[0] < 0 || p[0] >= n || !ok(p[1])) bad(`"${field}" has a bad pair`);
  }
  return v as [number, T][];
}

export const isBytes = (x: unknown): x is Uint8Array => x instanceof Uint8Array;
