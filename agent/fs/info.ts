/** fs.Stats, fs-thread stat answers and fs.Dirent → the protocol's FileInfo fields and FileType. */
import type { Dirent } from 'node:fs';
import type { FileInfo, FileType } from '../../protocol/index.js';
import { STAT_FIELDS } from './fs-thread-code.js';

/** The stat(2) numbers the handlers use. fs.Stats has them all; fs threads answer with just these. */
export interface StatRecord {
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  blocks: number;
  ino: number;
  dev: number;
  mtimeMs: number;
  atimeMs: number;
  ctimeMs: number;
}

/** The record at slot `i` of an fs-thread stat answer (see fs-thread-code.ts for the order). */
export function statRecordAt(st: Float64Array, i: number): StatRecord {
  const o = i * STAT_FIELDS;
  return {
    mode: st[o]!,
    nlink: st[o + 1]!,
    uid: st[o + 2]!,
    gid: st[o + 3]!,
    size: st[o + 4]!,
    blocks: st[o + 5]!,
    ino: st[o + 6]!,
    dev: st[o + 7]!,
    mtimeMs: st[o + 8]!,
    atimeMs: st[o + 9]!,
    ctimeMs: st[o + 10]!,
  };
}

const S_IFMT = 0o170000;
const TYPES: Record<number, FileType> = {
  0o100000: 'file',
  0o040000: 'dir',
  0o120000: 'symlink',
  0o060000: 'block',
  0o020000: 'char',
  0o010000: 'fifo',
  0o140000: 'socket',
};

export function typeOfMode(mode: number): FileType {
  return TYPES[mode & S_IFMT] ?? 'unknown';
}

/** The type from d_type; 'unknown' when the filesystem does not fill it in (then lstat). */
export function typeOfDirent(
  d:
    | Dirent
    | {
        isFile(): boolean;
        isDirectory(): boolean;
        isSymbolicLink(): boolean;
        isFIFO(): boolean;
        isSocket(): boolean;
        isBlockDevice(): boolean;
        isCharacterDevice(): boolean;
      },
): FileType {
  if (d.isFile()) return 'file';
  if (d.isDirectory()) return 'dir';
  if (d.isSymbolicLink()) return 'symlink';
  if (d.isFIFO()) return 'fifo';
  if (d.isSocket()) return 'socket';
  if (d.isCharacterDevice()) return 'char';
  if (d.isBlockDevice()) return 'block';
  return 'unknown';
}

/** The stat fields of FileInfo (no names, no symlink target). */
export type StatFields = Omit<FileInfo, 'owner' | 'group' | 'target' | 'targetRaw'>;

export function statFields(st: StatRecord): StatFields {
  return {
    type: typeOfMode(st.mode),
    size: st.size,
    blocks: st.blocks,
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
    nlink: st.nlink,
    ino: st.ino,
    dev: st.dev,
    mtimeMs: st.mtimeMs,
    atimeMs: st.atimeMs,
    ctimeMs: st.ctimeMs,
  };
}

/** Copy the stat fields onto an entry object (find/ls entries carry them flat). */
export function assignStat<T extends object>(target: T, st: StatRecord): T & Omit<StatFields, 'type'> {
  const t = target as T & Omit<StatFields, 'type'>;
  t.size = st.size;
  t.blocks = st.blocks;
  t.mode = st.mode;
  t.uid = st.uid;
  t.gid = st.gid;
  t.nlink = st.nlink;
  t.ino = st.ino;
  t.dev = st.dev;
  t.mtimeMs = st.mtimeMs;
  t.atimeMs = st.atimeMs;
  t.ctimeMs = st.ctimeMs;
  return t;
}
