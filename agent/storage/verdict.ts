/**
 * From what each side saw to a verdict per probed dir. Pure.
 *
 *   shared        the compute node saw the login node's marker AND the login
 *                 node saw the compute node's marker
 *   not-shared    the probe ran and neither happened
 *   inconclusive  one direction only (read-only for compute nodes, or a cache
 *                 slower than our wait), or the job never ran the probe
 *
 * "The probe ran" = a compute marker reached the login node somewhere, or the
 * job COMPLETED (the script always exits 0 at its end; a job that failed to
 * start, e.g. because the scheduler could not open a file, proves nothing).
 * Only shared / not-shared are recorded.
 */
import type { JobState, ProbeVerdict, SchedulerName } from '../../protocol/index.js';
import type { ComputeMarker } from './probe-script.js';

export interface ProbeObservations {
  jobId: string;
  scheduler: SchedulerName;
  state: JobState;
  reason: string | null;
  loginHost: string;
  /** Per probed dir, in the order given to the script: the compute marker the login node found there, or null. */
  dirs: { probeDir: string; marker: ComputeMarker | null }[];
}

export interface DirVerdict {
  probeDir: string;
  verdict: Exclude<ProbeVerdict, 'skipped'>;
  reason: string;
  computeSaw: boolean | null;
  loginSaw: boolean;
}

export interface ProbeVerdicts {
  computeHost: string | null;
  sameHost: boolean | null;
  ran: boolean;
  /** One sentence for evidence: which job, where it ran. */
  where: string;
  dirs: DirVerdict[];
}

/** Same machine? uname -n on one side, os.hostname() on the other: compare the short names. */
export function sameMachine(a: string, b: string): boolean {
  const short = (h: string) => h.toLowerCase().split('.')[0]!;
  return short(a) === short(b);
}

export function decideVerdicts(o: ProbeObservations): ProbeVerdicts {
  const n = o.dirs.length;
  // Any one marker carries the compute node's view of every dir.
  const report = o.dirs.map((d) => d.marker).find((m): m is ComputeMarker => m !== null && m.all.length === n) ?? null;
  const computeHost = report?.host ?? (o.scheduler === 'local' ? o.loginHost : null);
  const sameHost = computeHost === null ? null : sameMachine(computeHost, o.loginHost);
  const ran = report !== null || o.state === 'COMPLETED';
  const job = `probe job ${o.jobId} (${o.scheduler})`;
  const where =
    computeHost === null
      ? `${job}, host unknown (no marker came back)`
      : sameHost
        ? `${job} ran on ${computeHost}, the login node itself (one host: every location is trivially shared there)`
        : `${job} ran on ${computeHost}`;
  const dirs = o.dirs.map((d, k): DirVerdict => {
    const loginSaw = d.marker !== null;
    const computeSaw = report ? report.all[k] === '1' : null;
    const base = { probeDir: d.probeDir, loginSaw, computeSaw };
    if (!ran) {
      const how = `${o.state}${o.reason ? ` (${o.reason})` : ''}`;
      return { ...base, verdict: 'inconclusive', reason: `${job} ended ${how} without running the probe: no marker came back; nothing recorded` };
    }
    if (loginSaw && computeSaw)
      return { ...base, verdict: 'shared', reason: "the compute node saw the login node's marker and the login node saw the compute node's" };
    if (!loginSaw && computeSaw === false)
      return {
        ...base,
        verdict: 'not-shared',
        reason: "the compute node did not see the login node's marker, and its own marker did not appear on the login node",
      };
    if (!loginSaw && computeSaw === null)
      return {
        ...base,
        verdict: 'not-shared',
        reason: 'the probe job completed but none of its markers appeared on the login node, here or anywhere else',
      };
    if (loginSaw)
      return {
        ...base,
        verdict: 'inconclusive',
        reason: "the compute node's marker appeared here, but it did not see the login node's (a cache on the compute node?); nothing recorded",
      };
    return {
      ...base,
      verdict: 'inconclusive',
      reason:
        "the compute node saw the login node's marker, but its own did not appear here in time (read-only for compute nodes, or a slow cache); nothing recorded",
    };
  });
  return { computeHost, sameHost, ran, where, dirs };
}
