/** Filesystem methods. Every one is a single round trip. */
import * as v from 'valibot';
import type { FindBatch } from '../find-batch.js';
import type { LsBatch } from '../ls-batch.js';
import { stream, unary, returns } from '../method.js';
import { Bytes, Count, PathArg, Pattern, TimeArg } from '../schemas.js';
import {
  FILE_TYPES,
  type CountResult,
  type DuResult,
  type FileInfo,
  type LsSummary,
  type PathResult,
  type ReadSummary,
  type WalkProgress,
  type WalkSummary,
} from '../types/fs.js';

const FileTypeArg = v.picklist(FILE_TYPES as [string, ...string[]], `expected one of ${FILE_TYPES.join(', ')}`);
const OneOrMany = <S extends v.GenericSchema>(s: S) => v.union([s, v.array(s)]);
const Bool = v.boolean('expected true or false');

const PathOnly = v.object({ path: PathArg });

/** stat(2): follows symlinks. */
export const fsStat = unary('fs.stat', PathOnly, returns<FileInfo>());
/** lstat(2): does not follow; symlinks carry `target`. */
export const fsLstat = unary('fs.lstat', PathOnly, returns<FileInfo>());
/** Like `test -e`: true if the path exists (following symlinks). */
export const fsExists = unary('fs.exists', PathOnly, returns<boolean>());
/** Like `test -d`. */
export const fsIsDir = unary('fs.isdir', PathOnly, returns<boolean>());
/** Like `test -f`. */
export const fsIsFile = unary('fs.isfile', PathOnly, returns<boolean>());
/** realpath(3). */
export const fsRealpath = unary('fs.realpath', PathOnly, returns<PathResult>());
/** readlink(2). */
export const fsReadlink = unary('fs.readlink', PathOnly, returns<PathResult>());

/** List one directory with each entry's lstat (no N+1 calls). Streams batches of entries as columns (ls-batch.ts). */
export const fsLs = stream(
  'fs.ls',
  v.object({
    path: PathArg,
    /** Include lstat fields for every entry (default true). False: names and types only, from d_type. */
    stat: v.optional(Bool, true),
    /** Resolve uid/gid to names (default true). */
    names: v.optional(Bool, true),
  }),
  returns<LsBatch>(),
  returns<LsSummary>(),
);

const WalkFilters = {
  /** Basename glob(s), fnmatch semantics like `find -name`; any may match. */
  name: v.optional(OneOrMany(Pattern)),
  /** Case-insensitive `name`, like `find -iname`. */
  iname: v.optional(OneOrMany(Pattern)),
  /** Whole-path glob like `find -path` (matched against the printed path). */
  path: v.optional(Pattern),
  type: v.optional(OneOrMany(FileTypeArg)),
  /** Minimum size in bytes, inclusive. */
  minSize: v.optional(Count),
  /** Maximum size in bytes, inclusive. */
  maxSize: v.optional(Count),
  /** Only entries modified after this time. */
  newerThan: v.optional(TimeArg),
  /** Only entries modified before this time. */
  olderThan: v.optional(TimeArg),
  minDepth: v.optional(Count),
  maxDepth: v.optional(Count),
  /** Follow symlinks (`find -L`); loops are reported as ELOOP entries. */
  follow: v.optional(Bool, false),
  /** Stay on the root's filesystem (`-xdev`). */
  xdev: v.optional(Bool, false),
  /** Basename globs of directories not to descend into (they are still reported if they match). */
  prune: v.optional(v.array(Pattern)),
  /** Wall-clock limit of the walk in ms; the walk ends with TIMEOUT after it. Default: the agent's walkTimeLimitMs. */
  timeLimitMs: v.optional(v.pipe(Count, v.minValue(1))),
};

/** Walk a tree like GNU find; results stream in column batches (find-batch.ts); cancellable. */
export const fsFind = stream(
  'fs.find',
  v.object({
    root: PathArg,
    ...WalkFilters,
    /** Stop after this many matches (summary.truncated = true). */
    limit: v.optional(Count),
    /** Include lstat fields (size, mtime, mode, uid, gid…) in every entry. */
    stat: v.optional(Bool, false),
  }),
  returns<FindBatch>(),
  returns<WalkSummary>(),
);

/** Count what find would match, without sending the entries. Streams progress. */
export const fsCount = stream('fs.count', v.object({ root: PathArg, ...WalkFilters }), returns<WalkProgress>(), returns<CountResult>());

/** Disk usage of a tree: `du -s -b` and `du -s -B1` at once, hard links counted once; with maxDepth each directory down to it too. Streams progress. */
export const fsDu = stream(
  'fs.du',
  v.object({
    path: PathArg,
    /** Stay on one filesystem (`du -x`). */
    xdev: v.optional(Bool, false),
    /** Also total every directory down to this depth (`du --max-depth`): result.byDir. */
    maxDepth: v.optional(Count),
    timeLimitMs: v.optional(v.pipe(Count, v.minValue(1))),
  }),
  returns<WalkProgress>(),
  returns<DuResult>(),
);

/** Shell-style glob (`*`, `?`, `[...]`, `**`), relative to cwd; dotfiles only when the pattern says so. */
export const fsGlob = stream(
  'fs.glob',
  v.object({
    pattern: Pattern,
    /** Directory the pattern is relative to (default: the agent's home). */
    cwd: v.optional(PathArg),
    /** Let `*` match a leading dot too. */
    dot: v.optional(Bool, false),
    limit: v.optional(Count),
  }),
  returns<FindBatch>(),
  returns<WalkSummary>(),
);

/** Read a byte range; streams chunks of at most transferChunkBytes. */
export const fsRead = stream(
  'fs.read',
  v.object({
    path: PathArg,
    offset: v.optional(Count, 0),
    /** Bytes to read; default to the end of the file. */
    length: v.optional(Count),
  }),
  returns<Uint8Array>(),
  returns<ReadSummary>(),
);

const Mode = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(0o7777, 'mode must be at most 0o7777'));

/** Write a whole file (up to a frame's worth). Atomic by default: temp file + rename. */
export const fsWrite = unary(
  'fs.write',
  v.object({
    path: PathArg,
    data: v.union([Bytes, v.string()], 'expected bytes or a string'),
    mode: v.optional(Mode),
    /** Create missing parent directories. */
    mkdirs: v.optional(Bool, false),
    /** Append instead of replacing (not atomic). */
    append: v.optional(Bool, false),
  }),
  returns<{ bytes: number }>(),
  { attachment: 'data' },
);

/** Start a large upload into a temp file beside `path`. */
export const fsUploadOpen = unary(
  'fs.upload.open',
  v.object({ path: PathArg, mode: v.optional(Mode), mkdirs: v.optional(Bool, false) }),
  returns<{ handle: string }>(),
);
/** Write one chunk at `offset` of an open upload. Chunks may be pipelined. */
export const fsUploadChunk = unary('fs.upload.chunk', v.object({ handle: v.string(), offset: Count, data: Bytes }), returns<{ bytes: number }>(), {
  attachment: 'data',
});
/** fsync and rename the temp file into place; optionally verify size and sha256 first. */
export const fsUploadCommit = unary(
  'fs.upload.commit',
  v.object({
    handle: v.string(),
    size: v.optional(Count),
    sha256: v.optional(v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, 'expected a lowercase hex sha256'))),
  }),
  returns<{ bytes: number; sha256: string }>(),
);
/** Drop an upload and its temp file. */
export const fsUploadAbort = unary('fs.upload.abort', v.object({ handle: v.string() }), returns<{ aborted: boolean }>());

/** mkdir, with parents by default (`mkdir -p`). */
export const fsMkdir = unary('fs.mkdir', v.object({ path: PathArg, parents: v.optional(Bool, true), mode: v.optional(Mode) }), returns<{ created: boolean }>());

/** Remove a file or an empty directory; whole trees only with recursive: true. */
export const fsRm = unary(
  'fs.rm',
  v.object({ path: PathArg, recursive: v.optional(Bool, false), force: v.optional(Bool, false) }),
  returns<{ removed: boolean }>(),
);

/** rename(2); with noReplace, fails with EEXIST instead of replacing. */
export const fsRename = unary('fs.rename', v.object({ from: PathArg, to: PathArg, noReplace: v.optional(Bool, false) }), returns<Record<string, never>>());
