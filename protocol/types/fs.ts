/** Result types of the filesystem methods. */
import type { WireError } from '../errors.js';

export type FileType = 'file' | 'dir' | 'symlink' | 'block' | 'char' | 'fifo' | 'socket' | 'unknown';
export const FILE_TYPES: readonly FileType[] = ['file', 'dir', 'symlink', 'block', 'char', 'fifo', 'socket', 'unknown'];

/** What stat(2)/lstat(2) says about one file. Times are ms since the epoch. */
export interface FileInfo {
  type: FileType;
  /** st_size, bytes. */
  size: number;
  /** st_blocks: allocated 512-byte blocks (sparse files have fewer than size/512). */
  blocks: number;
  /** st_mode: file type and permission bits, e.g. 0o100644. */
  mode: number;
  uid: number;
  gid: number;
  /** User name for uid, when the agent can resolve it. */
  owner?: string;
  /** Group name for gid, when the agent can resolve it. */
  group?: string;
  nlink: number;
  ino: number;
  dev: number;
  mtimeMs: number;
  atimeMs: number;
  ctimeMs: number;
  /** Symlink target (lstat and ls only), lossy-decoded. */
  target?: string;
  /** Symlink target bytes, present only when the target is not valid UTF-8. */
  targetRaw?: Uint8Array;
}

/**
 * One directory entry. `name` is always a string; when the name on disk is
 * not valid UTF-8, `name` is a lossy rendering (U+FFFD) and `raw` holds the
 * exact bytes, which are accepted back wherever a path is.
 */
export interface DirEntry extends Partial<Omit<FileInfo, 'type'>> {
  name: string;
  raw?: Uint8Array;
  type: FileType;
  /** Set when the entry could not be lstat'ed (e.g. removed meanwhile); the listing goes on. */
  error?: WireError;
}

export interface LsSummary {
  /** Entries sent. */
  count: number;
}

/** One find/glob result. `path` is root-relative-joined like GNU find prints it. */
export interface FindEntry extends Partial<Omit<FileInfo, 'type'>> {
  path: string;
  /** Exact path bytes when the path is not valid UTF-8. */
  raw?: Uint8Array;
  type: FileType;
  /** 0 for the root itself. */
  depth: number;
  /**
   * Set when this path could not be read (unreadable directory, vanished
   * entry, symlink loop with follow): the walk reports it and goes on, like
   * GNU find's "Permission denied" on stderr.
   */
  error?: WireError;
}

export interface WalkSummary {
  /** Entries that matched and were sent (find, glob). */
  matched: number;
  /** Entries looked at. */
  visited: number;
  /** Entries reported with an error. */
  errors: number;
  /** True when `limit` stopped the walk early. */
  truncated: boolean;
  elapsedMs: number;
}

/** Periodic progress of a long du/countFiles walk. */
export interface WalkProgress {
  visited: number;
  apparentBytes?: number;
  elapsedMs: number;
}

/** du: what `du -s -b` and `du -s -B1` would print, plus counts. */
export interface DuResult {
  /** Sum of st_size over every entry, hard links once (`du -sb`). */
  apparentBytes: number;
  /** Sum of st_blocks × 512 over every entry, hard links once (`du -s -B1`). */
  allocatedBytes: number;
  files: number;
  dirs: number;
  symlinks: number;
  other: number;
  errors: number;
  /** The first few errors, for the message to the user. */
  firstErrors: FindEntry[];
  elapsedMs: number;
  /**
   * With `maxDepth`: every directory down to that depth (the root is 0) with
   * everything below it, like `du --max-depth=N`; a directory after its
   * contents, siblings by name.
   */
  byDir?: DuDirTotal[];
}

/** One line of `du --max-depth=N`: both totals, hard links counted once where first met. */
export interface DuDirTotal {
  path: string;
  /** Exact path bytes when the path is not valid UTF-8. */
  raw?: Uint8Array;
  depth: number;
  apparentBytes: number;
  allocatedBytes: number;
}

export interface CountResult {
  total: number;
  files: number;
  dirs: number;
  symlinks: number;
  other: number;
  errors: number;
  elapsedMs: number;
}

export interface ReadSummary {
  /** Bytes sent. */
  bytes: number;
  /** File size at open time. */
  size: number;
  mtimeMs: number;
}

export interface PathResult {
  path: string;
  raw?: Uint8Array;
}
