/**
 * Batched filesystem calls. The client coalesces concurrent `stat`/`lstat`
 * calls made in the same tick into one `fs.statMany` (like a DataLoader), so a
 * script that fires 50,000 stats pays the per-frame cost once per batch.
 *
 * The answer is columns, not one FileInfo map per path: decoding 1000 maps of
 * 12 keys was the client's largest cost at 50,000 stats/s (~2.7 µs each).
 * `StatManyWriter` builds it on the agent, `readStatMany` turns it back into
 * one FileInfo or error per path. Pure data, no I/O.
 */
import * as v from 'valibot';
import { growFor, typeIndex } from '../columns.js';
import { ProtocolError, type WireError } from '../errors.js';
import { unary, returns } from '../method.js';
import { PathArg } from '../schemas.js';
import { FILE_TYPES, type FileInfo, type FileType } from '../types/fs.js';

/** Paths per statMany call. Default 1000 (a batch of FileInfo stays around 150 KB). */
export const STAT_MANY_MAX = 1000;

/** One result per path, in order: the FileInfo, or the error that stat alone would have raised. */
export type StatManyItem = FileInfo | { error: WireError };

/** Numbers per path in StatManyResult.fields, in this order. */
export const STAT_MANY_FIELDS = ['mode', 'nlink', 'uid', 'gid', 'size', 'blocks', 'ino', 'dev', 'mtimeMs', 'atimeMs', 'ctimeMs'] as const;

/** `types` value of a path whose stat failed. */
export const FAILED = 255;

/** fs.statMany's answer: slot i belongs to paths[i]. */
export interface StatManyResult {
  /** Per path its FILE_TYPES index, or FAILED (its error is in `errors`). */
  types: Uint8Array;
  /** Per path the STAT_MANY_FIELDS numbers, in that order (zeros for a failed path). */
  fields: number[];
  /** [uid, user name] for the uids of this batch that have a name. */
  users?: [number, string][];
  /** [gid, group name] for the gids of this batch that have a name. */
  groups?: [number, string][];
  /** [index, target] or [index, target, exact bytes] for symlinks (lstat). */
  targets?: ([number, string] | [number, string, Uint8Array])[];
  /** [index, error] for every FAILED path. */
  errors?: [number, WireError][];
}

const F = STAT_MANY_FIELDS.length;

/**
 * Builds one StatManyResult of `n` slots, filled in any order. Slots past `n`
 * grow it (fs.ls adds entries one by one): slots never set are FAILED.
 */
export class StatManyWriter {
  #types: Uint8Array<ArrayBuffer>;
  #n: number;
  readonly #fields: number[];
  readonly #users = new Map<number, string>();
  readonly #groups = new Map<number, string>();
  #targets: ([number, string] | [number, string, Uint8Array])[] | undefined;
  #errors: [number, WireError][] | undefined;

  constructor(n = 0) {
    this.#n = n;
    this.#types = new Uint8Array(Math.max(n, 16)).fill(FAILED);
    this.#fields = new Array<number>(n * F).fill(0);
  }

  /** Slots so far. */
  get length(): number {
    return this.#n;
  }

  #ensure(i: number): void {
    if (i < this.#n) return;
    this.#types = growFor(this.#types, i, FAILED);
    for (let k = this.#n * F; k < (i + 1) * F; k++) this.#fields.push(0);
    this.#n = i + 1;
  }

  /** Slot i answered: its type and the STAT_MANY_FIELDS numbers read from `values` at `offset`. */
  set(i: number, type: FileType, values: ArrayLike<number>, offset: number): void {
    this.#ensure(i);
    this.#types[i] = typeIndex(type);
    for (let k = 0; k < F; k++) this.#fields[i * F + k] = values[offset + k]!;
  }

  target(i: number, target: string, raw?: Uint8Array): void {
    (this.#targets ??= []).push(raw ? [i, target, raw] : [i, target]);
  }

  fail(i: number, error: WireError): void {
    this.#ensure(i);
    this.#types[i] = FAILED;
    (this.#errors ??= []).push([i, error]);
  }

  /** Names of the ids used in this batch (those that resolve). */
  user(uid: number, name: string): void {
    this.#users.set(uid, name);
  }
  group(gid: number, name: string): void {
    this.#groups.set(gid, name);
  }

  result(): StatManyResult {
    const r: StatManyResult = { types: this.#types.length === this.#n ? this.#types : this.#types.slice(0, this.#n), fields: this.#fields };
    if (this.#users.size) r.users = [...this.#users];
    if (this.#groups.size) r.groups = [...this.#groups];
    if (this.#targets) r.targets = this.#targets;
    if (this.#errors) r.errors = this.#errors;
    return r;
  }
}

function bad(what: string): never {
  throw new ProtocolError('PROTOCOL', `bad fs.statMany answer: ${what}`);
}

function pairs(v: unknown, field: string): unknown[][] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((p) => Array.isArray(p) && p.length >= 2)) bad(`"${field}" must be an array of tuples`);
  return v as unknown[][];
}

/** One item per path (n of them). Throws ProtocolError when the answer is malformed. */
export function readStatMany(r: unknown, n: number): StatManyItem[] {
  if (typeof r !== 'object' || r === null) bad('expected a map');
  const { types, fields } = r as Record<string, unknown>;
  if (!(types instanceof Uint8Array) || types.length !== n) bad(`"types" must be ${n} bytes`);
  if (!Array.isArray(fields) || fields.length !== n * F) bad(`"fields" must hold ${n * F} numbers`);
  const rec = r as StatManyResult;
  const users = new Map(pairs(rec.users, 'users') as [number, string][]);
  const groups = new Map(pairs(rec.groups, 'groups') as [number, string][]);
  const out = new Array<StatManyItem>(n);
  for (const [i, error] of pairs(rec.errors, 'errors')) {
    if (typeof i !== 'number' || i < 0 || i >= n || typeof error !== 'object' || error === null) bad('bad error entry');
    out[i] = { error: error as WireError };
  }
  for (let i = 0; i < n; i++) {
    const t = types[i]!;
    if (t === FAILED) {
      if (out[i] === undefined) bad(`path ${i} failed without an error`);
      continue;
    }
    const type = FILE_TYPES[t];
    if (type === undefined) bad(`path ${i} has an unknown type ${t}`);
    const o = i * F;
    const info: FileInfo = {
      type,
      size: fields[o + 4] as number,
      blocks: fields[o + 5] as number,
      mode: fields[o] as number,
      uid: fields[o + 2] as number,
      gid: fields[o + 3] as number,
      nlink: fields[o + 1] as number,
      ino: fields[o + 6] as number,
      dev: fields[o + 7] as number,
      mtimeMs: fields[o + 8] as number,
      atimeMs: fields[o + 9] as number,
      ctimeMs: fields[o + 10] as number,
    };
    const owner = users.get(info.uid);
    if (owner !== undefined) info.owner = owner;
    const group = groups.get(info.gid);
    if (group !== undefined) info.group = group;
    out[i] = info;
  }
  for (const [i, target, raw] of pairs(rec.targets, 'targets')) {
    const info = out[i as number];
    if (!info || 'error' in info || typeof target !== 'string') bad('bad target entry');
    info.target = target;
    if (raw instanceof Uint8Array) info.targetRaw = raw;
  }
  return out;
}

export const fsStatMany = unary(
  'fs.statMany',
  v.object({
    paths: v.pipe(v.array(PathArg), v.maxLength(STAT_MANY_MAX, `at most ${STAT_MANY_MAX} paths per call`)),
    /** Follow symlinks (stat) or not (lstat, with symlink targets). Default true. */
    follow: v.optional(v.boolean(), true),
  }),
  returns<StatManyResult>(),
);
