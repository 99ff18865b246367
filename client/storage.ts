/**
 * Storage layout of the cluster: `cluster.storage()` (detection, with
 * `verify: true` the probe job too), `verifyStorage` (the probe, typed with
 * what it saw) and `markStorageVerified` (record evidence gathered elsewhere).
 */
import {
  storageDetect,
  storageMarkVerified,
  storageVerify,
  type ParamsIn,
  type StorageReport,
  type StorageVerification,
  type StorageVerifyProgress,
  type StorageVerifyResult,
} from '../protocol/index.js';
import type { CallOptions, Connection } from './connection.js';

export type VerifyOptions = ParamsIn<typeof storageVerify> &
  CallOptions & {
    /** Called with every progress line of the probe (markers written, job state, verdicts, clean-up). */
    onProgress?: (p: StorageVerifyProgress) => void;
  };

export type StorageOptions = ParamsIn<typeof storageDetect> &
  Omit<VerifyOptions, 'callTimeoutMs'> & {
    /**
     * Verify which locations compute nodes really see, with a probe job
     * (storage.verify), before answering. Records the verdicts on the cluster.
     * The result is then a StorageVerifyResult (with `probe`).
     */
    verify?: boolean;
  };

function split<T extends CallOptions>(o: T | undefined): [Omit<T, 'signal' | 'timeoutMs'>, CallOptions] {
  const { signal, timeoutMs, ...rest } = (o ?? {}) as T;
  const call: CallOptions = {};
  if (signal) call.signal = signal;
  if (timeoutMs !== undefined) call.timeoutMs = timeoutMs;
  return [rest, call];
}

/**
 * Run the verification probe: one job that checks, from a compute node, the
 * marker the agent wrote into each location, and writes its own back. Resolves
 * with the updated report and `probe` (job, host, verdict per location).
 * Waits as long as the job queues, up to `probeTimeoutMs` (default 5 min).
 */
export async function verifyStorage(conn: Connection, o: VerifyOptions = {}): Promise<StorageVerifyResult> {
  const { onProgress, ...rest } = o;
  const [params, call] = split(rest);
  const s = conn.stream(storageVerify, params, call);
  for await (const p of s) onProgress?.(p);
  return s.result;
}

/** Detect every relevant location with fs type, capacity, quota and the shared guess (or, with `verify`, the probe's verdict). */
export function detectStorage(conn: Connection, o: StorageOptions & { verify: true }): Promise<StorageVerifyResult>;
export function detectStorage(conn: Connection, o?: StorageOptions): Promise<StorageReport>;
export function detectStorage(conn: Connection, o?: StorageOptions): Promise<StorageReport> {
  const { verify, quota, callTimeoutMs, ...rest } = o ?? {};
  if (verify) return verifyStorage(conn, { ...rest, ...(callTimeoutMs !== undefined ? { callTimeoutMs } : {}) });
  const { signal, timeoutMs } = rest;
  const params: ParamsIn<typeof storageDetect> = {};
  if (quota !== undefined) params.quota = quota;
  if (callTimeoutMs !== undefined) params.callTimeoutMs = callTimeoutMs;
  return conn.call(storageDetect, params, { ...(signal ? { signal } : {}), ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
}

/** Record evidence, gathered some other way, that compute nodes do (or do not) see `path` (written to `<root>/storage.json`). */
export function markStorageVerified(conn: Connection, p: ParamsIn<typeof storageMarkVerified>, o?: CallOptions): Promise<StorageVerification> {
  return conn.call(storageMarkVerified, p, o);
}
