/** Result types of the storage methods (`storage.detect`, `storage.markVerified`). */

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

export interface StorageReport {
  host: string;
  user: string;
  detectedAt: number;
  locations: StorageLocation[];
  placement: StoragePlacement;
  /** The clustrix root the agent runs with. */
  root: string;
}

/** One verification record in `<root>/storage.json`, keyed by mount point. */
export interface StorageVerification {
  mountPoint: string;
  path: string;
  shared: boolean;
  verifiedAt: number;
  /** Free text: how it was verified (e.g. `probe job 1234 on node c042`). */
  evidence: string;
}
