/** Storage detection: mounts, fs types, capacity, quota, and whether each location is shared. */
import * as v from 'valibot';
import { returns, unary } from '../method.js';
import { Count } from '../schemas.js';
import type { StorageReport, StorageVerification } from '../types/storage.js';

/**
 * Detect the storage layout of this host: home, work/project dirs, shared
 * scratch, /tmp, node-local scratch conventions and parallel-fs mounts, each
 * with fs type, statfs capacity, quota (where a site tool exists) and a
 * shared/not-shared guess. Verified results from `<root>/storage.json` override
 * the guess.
 */
export const storageDetect = unary(
  'storage.detect',
  v.object({
    /** Run the site quota tools (default true). They can be slow on busy servers. */
    quota: v.optional(v.boolean('expected true or false'), true),
    /** Limit per external call (statfs, realpath, quota tool), ms. Default 5000. */
    callTimeoutMs: v.optional(v.pipe(Count, v.minValue(1), v.maxValue(120_000)), 5000),
  }),
  returns<StorageReport>(),
);

/**
 * Record that a location was (or was not) seen from a compute node. Called by
 * the probe-job layer; the record goes into `<root>/storage.json` (atomic
 * write) and is applied to every location on the same mount.
 */
export const storageMarkVerified = unary(
  'storage.markVerified',
  v.object({
    path: v.pipe(v.string('expected a path string'), v.minLength(1, 'path must not be empty'), v.maxLength(4096, 'path longer than 4096 bytes')),
    shared: v.boolean('expected true or false'),
    evidence: v.optional(v.pipe(v.string(), v.maxLength(1000)), ''),
  }),
  returns<StorageVerification>(),
);
