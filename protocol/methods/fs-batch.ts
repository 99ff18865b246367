/**
 * Batched filesystem calls. The client coalesces concurrent `stat`/`lstat`
 * calls made in the same tick into one `fs.statMany` (like a DataLoader), so a
 * script that fires 50,000 stats pays the per-frame cost once per batch.
 */
import * as v from 'valibot';
import type { WireError } from '../errors.js';
import { unary, returns } from '../method.js';
import { PathArg } from '../schemas.js';
import type { FileInfo } from '../types/fs.js';

/** Paths per statMany call. Default 1000 (a batch of FileInfo stays around 150 KB). */
export const STAT_MANY_MAX = 1000;

/** One result per path, in order: the FileInfo, or the error that stat alone would have raised. */
export type StatManyItem = FileInfo | { error: WireError };

export const fsStatMany = unary(
  'fs.statMany',
  v.object({
    paths: v.pipe(v.array(PathArg), v.maxLength(STAT_MANY_MAX, `at most ${STAT_MANY_MAX} paths per call`)),
    /** Follow symlinks (stat) or not (lstat, with symlink targets). Default true. */
    follow: v.optional(v.boolean(), true),
  }),
  returns<StatManyItem[]>(),
);
