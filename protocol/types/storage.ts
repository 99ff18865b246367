/** Result types of the storage methods (`storage.detect`, `storage.verify`, `storage.markVerified`). */
import type { JobState, SchedulerName } from './jobs.js';

/** One line of /proc/self/mountinfo, decoded (octal escapes such as `\040` resolved). */
export interface MountEntry {
  id: number;
  parentId: number;
  /** `major:minor` of the device. */
  dev: string;
  /** Root of the mount within its filesystem. */
  root: string;
  mountPoint: string;
  /** Per-mount options (`rw`, `nosuid`, `relatime`…). */
  options: string[];
  /** Propagation fields before the ` - ` separator (`shared:12`, `master:3`…). */
  optionalFields: string[];
  fsType: string;
  /** Mount source: a device, `server:/export`, `10.0.0.1@o2ib:/fs`… */
  source: string;
  /** Per-superblock options. */
  superOptions: string[];
}

export type StorageKind = 'home' | 'work' | 'project' | 'scratch' | 'tmp' | 'node-local' | 'clustrix-root';

/** Usage and limits from a site quota tool. Bytes and file counts; a limit of 0 means none. */
export interface Quota {
  tool: 'lfs' | 'quota';
  usedBytes: number;
  softLimitBytes: number;
  hardLimitBytes: number;
  usedFiles: number | null;
  softLimitFiles: number | null;
  hardLimitFiles: number | null;
}

export interface StorageLocation {
  kind: StorageKind;
  path: string;
  /** Where the path came from: `$SCRATCH`, `/scratch`, `mount table`… */
  from: string;
  /** The path resolved through symlinks (null when it does not exist). */
  realPath: string | null;
  exists: boolean;
  mountPoint: string | null;
  fsType: string | null;
  /** Mount source (device or server export). */
  source: string | null;
  /** From statfs: capacity, free (root included) and available (to us) bytes. */
  totalBytes: number | null;
  freeBytes: number | null;
  availBytes: number | null;
  totalFiles: number | null;
  freeFiles: number | null;
  quota: Quota | null;
  /** Why quota is null (no tool, tool failed, not applicable). */
  quotaReason: string | null;
  /**
   * Visible from compute nodes? A GUESS from the fs type unless `verified`.
   * null: no idea (unknown fs type).
   */
  shared: boolean | null;
  sharedReason: string;
  /** True once a probe job confirmed `shared` (see storage.markVerified). */
  verified: boolean;
  /** When the probe confirmed it (ms since epoch), or null. */
  verifiedAt: number | null;
  /** Set when a statfs, realpath or quota call failed or timed out. */
  error: string | null;
}

/** Where the agent puts its shared working files by default. */
export interface StoragePlacement {
  /** The base directory; jobs/, bundles/, envs/ live below it. */
  base: string;
  jobs: string;
  bundles: string;
  envs: string;
  /** How `base` was chosen. `local`: nothing shared was found (fine for local mode, wrong for a cluster). */
  basis: 'verified-shared' | 'guessed-shared' | 'local';
  reason: string;
}

/**
 * Where the running agent actually keeps job dirs, environments and bundles.
 * Chosen at agent start (agent/storage/placement.ts): `<root>` unless the
 * root is verified NOT shared and a verification chose a verified-shared
 * location. A new placement takes effect at the next agent start.
 */
export interface PlacementInUse {
  base: string;
  jobs: string;
  envs: string;
  bundles: string;
  /** Why these directories, in words (including a move held back by unfinished jobs). */
  reason: string;
}

export interface StorageReport {
  host: string;
  user: string;
  detectedAt: number;
  locations: StorageLocation[];
  /** Where job files SHOULD go, from this report. */
  placement: StoragePlacement;
  /** Where this agent puts them now (decided at its start). */
  inUse?: PlacementInUse;
  /** The clustrix root the agent runs with. */
  root: string;
}

/**
 * One verification record in `<root>/storage.json`, keyed by `path`. It
 * applies to the location at `path`, and to other locations on the same
 * mount point unless records on that mount disagree.
 */
export interface StorageVerification {
  mountPoint: string;
  /** The real path (symlinks resolved) that was probed. */
  path: string;
  shared: boolean;
  verifiedAt: number;
  /** Free text: how it was verified (e.g. `probe job 1234 on node c042`). */
  evidence: string;
}

/** What the probe concluded about one location. */
export type ProbeVerdict =
  /** The compute node saw the login node's marker and the login node saw the compute node's. Recorded. */
  | 'shared'
  /** The probe job ran and neither side saw the other's marker. Recorded. */
  | 'not-shared'
  /** Only one direction worked, or the job never ran the probe: nothing recorded. */
  | 'inconclusive'
  /** Not probed (missing, not writable, detection error, marker could not be written). */
  | 'skipped';

export interface StorageProbeLocation {
  kind: StorageKind;
  /** The location as detection reports it. */
  path: string;
  /** Where the markers went: the location itself, or `<location>/<user>` when only that is writable. Null when skipped before. */
  probeDir: string | null;
  mountPoint: string | null;
  verdict: ProbeVerdict;
  /** Why, in words: what each side saw, or why it was skipped. */
  reason: string;
  /** Did the compute node see the login node's marker? Null when unknown (no report from the compute node reached us). */
  computeSaw: boolean | null;
  /** Did the login node see the compute node's marker? Null when not looked for. */
  loginSaw: boolean | null;
}

/** One run of the verification probe (storage.verify). */
export interface StorageProbe {
  /** Random hex in every marker name (`.clustrix-probe-<nonce>`, `….seen`). */
  nonce: string;
  scheduler: SchedulerName;
  /** The clustrix job id of the probe job (null when nothing could be probed, so nothing was submitted). */
  jobId: string | null;
  /** Its terminal state, null when it was not submitted. */
  state: JobState | null;
  /** The scheduler's reason when it did not complete. */
  jobReason: string | null;
  /** The login node (this agent's host). */
  loginHost: string;
  /** The host the probe ran on, from its markers; null when no marker reached the login node. */
  computeHost: string | null;
  /** True when the probe ran on the login node itself (single-node testbed, local scheduler): everything is trivially shared. */
  sameHost: boolean | null;
  startedAt: number;
  endedAt: number;
  locations: StorageProbeLocation[];
}

/** storage.verify ends with the updated report and what the probe saw. */
export interface StorageVerifyResult extends StorageReport {
  probe: StorageProbe;
}

/** One progress line of storage.verify. */
export interface StorageVerifyProgress {
  /** ms since the epoch. */
  at: number;
  stage: 'select' | 'markers' | 'submit' | 'job' | 'collect' | 'verdict' | 'cleanup';
  message: string;
  /** The location concerned, if any. */
  path?: string;
  jobId?: string;
  state?: JobState;
}
