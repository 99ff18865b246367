/**
 * clustrix client library.
 *
 *   import { connect } from 'clustrix';
 *   const cluster = await connect('local');            // or an ssh alias / user@host:port
 *   const entries = await cluster.fs.ls('~/data');
 *   for await (const e of cluster.fs.find('~/data', { name: '*.h5' })) console.log(e.path);
 *   await cluster.close();
 */
import { Cluster } from './cluster.js';
import { openLocal, type LocalOptions } from './local.js';
import { openPersistent } from './mux/persistent.js';
import { withSshDefaults } from './ssh/defaults.js';
import { openRemote, type RemoteOptions } from './ssh/remote.js';

/**
 * Options of `connect`. The local ones apply to every target; the SSH ones
 * (host keys, auth callbacks, node runtime, install) only to SSH targets.
 * `nodePath` is the node binary on the target in both cases.
 */
export type ConnectOptions = LocalOptions &
  RemoteOptions & {
    /**
     * SSH targets: keep the SSH connection in a background process for this
     * many ms after the last use, and go through it when one runs (like
     * OpenSSH's ControlPersist; see docs/SSH.md). The CLI uses 10 min
     * ($CLUSTRIX_PERSIST_MS); default 0, off.
     */
    persistMs?: number;
  };

/**
 * Connect to a target: 'local' (the embedded default), an ~/.ssh/config
 * alias, or `user@host:port`. For SSH targets the agent is installed and
 * started on the cluster as needed (see docs/SSH.md).
 */
export async function connect(target = 'local', opts: ConnectOptions = {}): Promise<Cluster> {
  if (target === 'local') {
    const { conn } = await openLocal(opts);
    return new Cluster('local', conn);
  }
  if (opts.persistMs) {
    const p = await openPersistent(target, { ...withSshDefaults(opts), persistMs: opts.persistMs });
    return new Cluster(target, p.conn, () => p.close());
  }
  const remote = await openRemote(target, withSshDefaults(opts));
  return new Cluster(target, remote.conn, () => remote.close());
}

export { Cluster } from './cluster.js';
export { Connection, type CallOptions, type RemoteStream } from './connection.js';
export { ClustrixError, ConnectionError, RemoteError, type ConnectionErrorKind } from './errors.js';
export type { EntryStream, FindOptions, GlobOptions, CountOptions } from './fs.js';
export { openRemote, type RemoteHandle, type RemoteOptions, type RemoteTimings } from './ssh/remote.js';
export type { KeyboardInteractiveRequest } from './ssh/auth.js';
export type { UploadProgress } from './ssh/upload.js';
export type { AgentInfo, CountResult, DirEntry, DuResult, ErrorCode, FileInfo, FileType, FindEntry, WalkSummary, WalkProgress } from '../protocol/index.js';
export { EnvsApi, type EnsureOptions } from './envs.js';
export { detectStorage, markStorageVerified, verifyStorage, type StorageOptions, type VerifyOptions } from './storage.js';
export type {
  EnvSpec,
  EnvEnsureResult,
  StorageReport,
  StorageLocation,
  StorageProbe,
  StorageProbeLocation,
  StorageVerifyProgress,
  StorageVerifyResult,
  PlacementInUse,
} from '../protocol/index.js';
export {
  Job,
  JobsApi,
  type EventStream,
  type JobSpec,
  type ListOptions,
  type LogStream,
  type LogsOptions,
  type ProgressOptions,
  type ProgressStream,
  type SubmitOptions,
  type WatchOptions,
} from './jobs.js';
export type { JobEvent, JobInfo, JobState, JobsStats, ProgressEvent, SchedulerName, TaskInfo } from '../protocol/index.js';
export {
  BundleError,
  FunctionCall,
  FunctionJobError,
  FunctionsApi,
  MapCall,
  MapError,
  bundleModule,
  type Bundle,
  type BundledPackage,
  type CallReport,
  type ExternalPackage,
  type FunctionOptions,
  type MapOptions,
  type RemoteOrigin,
  type Settled,
  type UploadedPackage,
} from './functions/index.js';
export { ValueError } from '../protocol/values.js';
