/**
 * storage.verify: does a compute node really see each location?
 *
 *   1. select   detected locations that exist, have no error and are
 *               writable (or hold a writable `<location>/<user>`), one per
 *               real path; the others are reported `skipped` with the reason
 *   2. markers  from the login node, `<dir>/.clustrix-probe-<nonce>` (0600)
 *   3. submit   ONE job through the jobs service: `sh -c <fixed script>
 *               <nonce> <tries> <dir>...` (probe-script.ts), output to
 *               /dev/null, workdir /, the scheduler's own log sent to
 *               /dev/null where we know how: nothing it needs lives under
 *               the clustrix root, which may be the very thing not shared
 *   4. wait     for its terminal state (jobs.watch), within probeTimeoutMs;
 *               on timeout or cancel the job is cancelled
 *   5. collect  the compute node's `.seen` markers (markers.ts)
 *   6. verdict  per location (verdict.ts); shared / not-shared are recorded in
 *               `<root>/storage.json` with the job, host and what was seen
 *   7. cleanup  every marker, both sides that the login node can reach
 *
 * and answers the updated report; its placement is saved for the next agent
 * start (placement.ts).
 */
import { randomBytes } from 'node:crypto';
import {
  isTerminal,
  jobsSubmit,
  parseParams,
  ProtocolError,
  type JobInfo,
  type JobState,
  type ParamsOut,
  type SchedulerName,
  type StorageProbe,
  type StorageReport,
  type StorageVerification,
  type StorageVerifyProgress,
  type StorageVerifyResult,
  type storageVerify,
} from '../../protocol/index.js';
import type { JobService } from '../jobs/service.js';
import { collectComputeMarkers, removeMarkers, writeLoginMarker, type CollectOptions } from './markers.js';
import { probeArgv } from './probe-script.js';
import { resultOf, selectTargets, type Target } from './probe-targets.js';
import { decideVerdicts } from './verdict.js';
import { savePlacement, writeVerifications } from './verified.js';

export type VerifyParams = ParamsOut<typeof storageVerify>;

export interface ProbeDeps {
  root: string;
  user: string;
  host: string;
  jobs: Pick<JobService, 'submit' | 'watch' | 'cancel' | 'mustFind' | 'detected'>;
  /** Detection with the current records of `<root>/storage.json` (quota tools only for the final report). */
  detect: (quota: boolean) => Promise<StorageReport>;
  /** Tests: how long to look for compute markers. */
  collect?: Pick<CollectOptions, 'windowMs'>;
  /** After a cancel, how long to wait for the job to end before removing markers, ms. Default 20 s. */
  cancelGraceMs?: number;
}

export type ProgressFn = (p: StorageVerifyProgress) => void;

/** Wall time asked for the probe job: short jobs start sooner under backfill. */
export const PROBE_JOB_TIME_SEC = 300;

/**
 * Arguments that send the scheduler's own log and working directory away
 * from the job dir (they come after the jobs layer's own, and the later
 * option wins). Slurm fails a job whose --output it cannot open, and Grid
 * Engine holds one in error state (Eqw) when -o or -wd does not exist on the
 * node. PBS copies its output back to the submit host itself; for LSF we
 * have no test system to confirm repeated -o/-cwd, so none are added: if the
 * root is not visible there, the probe may end inconclusive, never wrong.
 */
export function detachDirectives(sched: SchedulerName): string[] {
  switch (sched) {
    case 'slurm':
      return ['--output=/dev/null', '--chdir=/'];
    case 'sge':
      return ['-o', '/dev/null', '-wd', '/'];
    default:
      return [];
  }
}

/** An AbortSignal that fires on the parent's abort or after `ms`. */
function deadlineSignal(parent: AbortSignal, ms: number): { signal: AbortSignal; timedOut: () => boolean; dispose: () => void } {
  const ac = new AbortController();
  let timedOut = false;
  const t = setTimeout(() => {
    timedOut = true;
    ac.abort();
  }, ms);
  const onAbort = () => ac.abort();
  if (parent.aborted) ac.abort();
  else parent.addEventListener('abort', onAbort, { once: true });
  return {
    signal: ac.signal,
    timedOut: () => timedOut && !parent.aborted,
    dispose: () => {
      clearTimeout(t);
      parent.removeEventListener('abort', onAbort);
    },
  };
}

export async function verifyStorage(p: VerifyParams, deps: ProbeDeps, progress: ProgressFn, signal: AbortSignal): Promise<StorageVerifyResult> {
  const startedAt = Date.now();
  const say = (stage: StorageVerifyProgress['stage'], message: string, extra: Partial<StorageVerifyProgress> = {}) =>
    progress({ at: Date.now(), stage, message, ...extra });
  const cancelled = () => new ProtocolError('CANCELLED', 'storage.verify cancelled');
  const nonce = randomBytes(16).toString('hex');
  const sched = p.scheduler ?? deps.jobs.detected.scheduler;

  const before = await deps.detect(false);
  const results = before.locations.map(resultOf);
  const targets = await selectTargets(before.locations, deps.user, p.callTimeoutMs, results);
  for (const r of results) if (r.reason) say('select', `skipping ${r.path}: ${r.reason}`, { path: r.path });

  // 2. markers from the login node
  const written: Target[] = [];
  for (const t of targets) {
    try {
      await writeLoginMarker(t.probeDir, nonce, p.callTimeoutMs);
      written.push(t);
      say('markers', `marker written in ${t.probeDir}`, { path: t.probeDir });
    } catch (err) {
      for (const i of t.members) Object.assign(results[i]!, { probeDir: t.probeDir, reason: `cannot write the marker: ${(err as Error).message}` });
      say('markers', `skipping ${t.probeDir}: cannot write the marker: ${(err as Error).message}`, { path: t.probeDir });
    }
  }
  const cleanup = async () => {
    for (const t of targets) {
      const problems = await removeMarkers(t.probeDir, nonce, p.callTimeoutMs);
      for (const m of problems) say('cleanup', `could not remove a marker: ${m}`, { path: t.probeDir });
    }
  };
  const finish = (o: Pick<StorageProbe, 'jobId' | 'state' | 'jobReason' | 'computeHost' | 'sameHost'>): StorageProbe => ({
    nonce,
    scheduler: sched,
    loginHost: deps.host,
    startedAt,
    endedAt: Date.now(),
    locations: results,
    ...o,
  });

  if (written.length === 0) {
    await cleanup();
    say('verdict', 'nothing could be probed: no job submitted');
    return { ...(await deps.detect(true)), probe: finish({ jobId: null, state: null, jobReason: null, computeHost: null, sameHost: null }) };
  }

  // 3. one probe job
  let job: JobInfo;
  try {
    if (signal.aborted) throw cancelled();
    const spec: Record<string, unknown> = {
      command: probeArgv(
        nonce,
        written.map((t) => t.probeDir),
      ),
      name: 'clustrix-storage-probe',
      workdir: '/',
      stdout: '/dev/null',
      stderr: '/dev/null',
      resources: { time: PROBE_JOB_TIME_SEC, ...(p.partition ? { partition: p.partition } : {}), ...(p.account ? { account: p.account } : {}) },
      directives: [...detachDirectives(sched), ...(p.directives ?? [])],
    };
    const parsed = parseParams(jobsSubmit, { spec, idempotencyKey: `storage-probe-${nonce}`, scheduler: sched });
    job = (await deps.jobs.submit(parsed)).job;
  } catch (err) {
    await cleanup();
    throw err;
  }
  say('submit', `probe job ${job.id} submitted to ${sched}${job.nativeIds.length ? ` as ${job.nativeIds.join(',')}` : ''}`, { jobId: job.id });

  // 4. wait for it, within the time limit
  const dl = deadlineSignal(signal, p.probeTimeoutMs);
  let state: JobState = job.state;
  let reason: string | null = null;
  try {
    await deps.jobs.watch(
      { ids: [job.id], untilDone: true, tasks: false },
      async (events) => {
        for (const e of events) {
          if (e.state === state && !isTerminal(e.state)) continue;
          state = e.state;
          reason = e.job.reason ?? null;
          say('job', `probe job ${job.id}: ${e.state}${reason ? ` (${reason})` : ''}`, { jobId: job.id, state: e.state });
        }
      },
      dl.signal,
    );
  } catch (err) {
    const timedOut = dl.timedOut();
    dl.dispose();
    await stopJob(deps, job.id, say);
    await cleanup();
    if (timedOut)
      throw new ProtocolError(
        'TIMEOUT',
        `storage.verify: probe job ${job.id} was still ${state}${reason ? ` (${reason})` : ''} after ${p.probeTimeoutMs} ms and was cancelled; ` +
          'allow longer (probeTimeoutMs, clustrix storage --verify --timeout) or pick a partition that starts sooner (--partition)',
        { jobId: job.id, state, nonce },
      );
    if (signal.aborted) throw cancelled();
    throw err;
  }
  dl.dispose();
  const rec = deps.jobs.mustFind(job.id);
  state = rec.state;
  reason = rec.reason ?? null;

  // 5. the compute node's markers
  const dirs = written.map((t) => t.probeDir);
  let markers;
  try {
    markers = await collectComputeMarkers(dirs, nonce, {
      timeoutMs: p.callTimeoutMs,
      signal,
      ...deps.collect,
      onWait: (missing) => say('collect', `waiting for the compute node's markers in ${missing.join(', ')} (NFS caches can hide them for seconds)`),
    });
  } finally {
    if (signal.aborted) await cleanup();
  }
  if (signal.aborted) throw cancelled();

  // 6. verdicts, recorded
  const v = decideVerdicts({
    jobId: job.id,
    scheduler: sched,
    state,
    reason,
    loginHost: deps.host,
    dirs: written.map((t, k) => ({ probeDir: t.probeDir, marker: markers[k]! })),
  });
  say('verdict', v.where, { jobId: job.id });
  const now = Date.now();
  const records: StorageVerification[] = [];
  written.forEach((t, k) => {
    const d = v.dirs[k]!;
    for (const i of t.members)
      Object.assign(results[i]!, { probeDir: t.probeDir, verdict: d.verdict, reason: d.reason, computeSaw: d.computeSaw, loginSaw: d.loginSaw });
    const where = t.probeDir === t.realPath ? '' : ` (markers in ${t.probeDir})`;
    say('verdict', `${t.realPath}: ${d.verdict}: ${d.reason}${where}`, { path: t.realPath });
    if ((d.verdict === 'shared' || d.verdict === 'not-shared') && t.mountPoint)
      records.push({
        mountPoint: t.mountPoint,
        path: t.realPath,
        shared: d.verdict === 'shared',
        verifiedAt: now,
        evidence: `${v.where}: ${d.reason}${where}`,
      });
  });
  if (records.length) writeVerifications(deps.root, records);

  // 7. clean up, answer the updated report, remember its placement
  await cleanup();
  say('cleanup', `markers removed from ${targets.length} ${targets.length === 1 ? 'directory' : 'directories'}`);
  const after = await deps.detect(true);
  const rootLoc = after.locations.find((l) => l.kind === 'clustrix-root');
  savePlacement(deps.root, { ...after.placement, decidedAt: now, rootShared: rootLoc?.verified ? rootLoc.shared : null });
  return {
    ...after,
    probe: finish({ jobId: job.id, state, jobReason: reason, computeHost: v.computeHost, sameHost: v.sameHost }),
  };
}

/** Cancel the probe job and give it a bounded time to end, so it writes no marker after the clean-up. */
async function stopJob(deps: ProbeDeps, id: string, say: (stage: 'job', message: string, extra?: Partial<StorageVerifyProgress>) => void): Promise<void> {
  try {
    await deps.jobs.cancel(id);
    say('job', `probe job ${id} cancelled`, { jobId: id });
  } catch (err) {
    say('job', `could not cancel probe job ${id}: ${(err as Error).message}`, { jobId: id });
    return;
  }
  const grace = deadlineSignal(new AbortController().signal, deps.cancelGraceMs ?? 20_000);
  try {
    await deps.jobs.watch({ ids: [id], untilDone: true, tasks: false }, async () => {}, grace.signal);
  } catch {
    /* still not ended: clean up anyway */
  } finally {
    grace.dispose();
  }
}
