/** Storage detection: mounts, fs types, capacity, quota, and whether each location is shared. */
import * as v from 'valibot';
import { returns, stream, unary } from '../method.js';
import { Count } from '../schemas.js';
import { SCHEDULERS, type SchedulerName } from '../types/jobs.js';
import type { StorageReport, StorageVerification, StorageVerifyProgress, StorageVerifyResult } from '../types/storage.js';

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

/** One argv word for the submit command: non-empty, one line, no NUL. */
const Word = (what: string, max: number) =>
  v.pipe(
    v.string(`${what} must be a string`),
    v.minLength(1, `${what} must not be empty`),
    v.maxLength(max, `${what} longer than ${max} characters`),
    v.check((s) => !/[\0\n\r]/.test(s), `${what} must be one line without NUL`),
  );

/** Longest a probe may wait for its job, ms (6 h). Probes remove markers older than a day, which therefore cannot belong to a live probe. */
export const MAX_PROBE_TIMEOUT_MS = 6 * 3600_000;

/**
 * Verify which locations compute nodes really see: write a nonce marker into
 * each candidate location from the login node, run ONE probe job that checks
 * them on a compute node and writes its own markers back, read those, record
 * the verdicts in `<root>/storage.json` (as storage.markVerified does) and
 * clean every marker up. Streams progress lines; ends with the updated report
 * plus what the probe saw (`probe`). The probe does not depend on the
 * clustrix root being shared: its output goes to /dev/null and its verdict
 * comes from the markers only.
 */
export const storageVerify = stream(
  'storage.verify',
  v.object({
    /** Scheduler to run the probe on. Default: the one detected on this host (jobs.detect). */
    scheduler: v.optional(v.picklist(SCHEDULERS as [SchedulerName, ...SchedulerName[]], `scheduler must be one of ${SCHEDULERS.join(', ')}`)),
    /** Give up (and cancel the probe job) after this long, ms: the job may queue. Default 5 min. */
    probeTimeoutMs: v.optional(v.pipe(Count, v.minValue(1000), v.maxValue(MAX_PROBE_TIMEOUT_MS)), 300_000),
    /** Partition / queue for the probe job. */
    partition: v.optional(Word('partition', 128)),
    /** Account to charge the probe job to. */
    account: v.optional(Word('account', 128)),
    /** Extra arguments for the submit command (sbatch/qsub/bsub), one argv word each. */
    directives: v.optional(v.array(Word('directive', 4096))),
    /** Limit per external call (statfs, realpath, marker read/write), ms. Default 5000. */
    callTimeoutMs: v.optional(v.pipe(Count, v.minValue(1), v.maxValue(120_000)), 5000),
  }),
  returns<StorageVerifyProgress>(),
  returns<StorageVerifyResult>(),
);

/**
 * Record that a location was (or was not) seen from a compute node, from
 * evidence gathered elsewhere (storage.verify records its own verdicts). The
 * record goes into `<root>/storage.json` (atomic write), keyed by the real
 * path; it applies to that location and to other locations on the same mount
 * unless records there disagree.
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
