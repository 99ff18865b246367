/** find/count filters (name, iname, path, type, size, mtime, minDepth) compiled once into one predicate. */
import type { FileType } from '../../protocol/index.js';
import { compileFnmatch, type Matcher } from './match.js';
import type { WalkEntry } from './walk.js';

export interface FilterParams {
  name?: string | string[] | undefined;
  iname?: string | string[] | undefined;
  path?: string | undefined;
  type?: string | string[] | undefined;
  minSize?: number | undefined;
  maxSize?: number | undefined;
  newerThan?: number | Date | undefined;
  olderThan?: number | Date | undefined;
  minDepth?: number | undefined;
}

export interface Filter {
  test(e: WalkEntry): boolean;
  /** True when `test` reads `e.stats` (size or time filters): the walk must stat every entry. */
  needsStat: boolean;
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const ms = (t: number | Date): number => (typeof t === 'number' ? t : t.getTime());

function anyOf(matchers: Matcher[]): Matcher | undefined {
  if (matchers.length === 0) return undefined;
  if (matchers.length === 1) return matchers[0];
  return (s) => matchers.some((m) => m(s));
}

export function compileFilter(p: FilterParams): Filter {
  const minDepth = p.minDepth ?? 0;
  const types = list(p.type);
  const typeSet = types.length ? new Set<FileType>(types as FileType[]) : undefined;
  const name = anyOf(list(p.name).map((pat) => compileFnmatch(pat)));
  const iname = anyOf(list(p.iname).map((pat) => compileFnmatch(pat, { caseFold: true })));
  const path = p.path === undefined ? undefined : compileFnmatch(p.path);
  const { minSize, maxSize } = p;
  const newer = p.newerThan === undefined ? undefined : ms(p.newerThan);
  const older = p.olderThan === undefined ? undefined : ms(p.olderThan);
  const needsStat = minSize !== undefined || maxSize !== undefined || newer !== undefined || older !== undefined;

  // Cheapest tests first; each one present narrows the rest.
  const test = (e: WalkEntry): boolean => {
    if (e.depth < minDepth) return false;
    if (typeSet && !typeSet.has(e.type)) return false;
    if (name && !name(e.name)) return false;
    if (iname && !iname(e.name)) return false;
    if (path && !path(e.path)) return false;
    if (needsStat) {
      const st = e.stats;
      if (!st) return false;
      if (minSize !== undefined && st.size < minSize) return false;
      if (maxSize !== undefined && st.size > maxSize) return false;
      if (newer !== undefined && !(st.mtimeMs > newer)) return false;
      if (older !== undefined && !(st.mtimeMs < older)) return false;
    }
    return true;
  };
  return { test, needsStat };
}
