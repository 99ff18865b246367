/**
 * Storage layout of the cluster: `cluster.storage()` and the verification
 * hook the jobs layer calls after a probe job (`markStorageVerified`).
 */
import { storageDetect, storageMarkVerified, type ParamsIn, type StorageReport, type StorageVerification } from '../protocol/index.js';
import type { CallOptions, Connection } from './connection.js';

export type StorageOptions = ParamsIn<typeof storageDetect> & CallOptions;

function split<T extends CallOptions>(o: T | undefined): [Omit<T, 'signal' | 'timeoutMs'>, CallOptions] {
  const { signal, timeoutMs, ...rest } = (o ?? {}) as T;
  const call: CallOptions = {};
  if (signal) call.signal = signal;
  if (timeoutMs !== undefined) call.timeoutMs = timeoutMs;
  return [rest, call];
}

/** Detect every relevant location with fs type, capacity, quota and the shared guess. */
export function detectStorage(conn: Connection, o?: StorageOptions): Promise<StorageReport> {
  const [params, call] = split(o);
  return conn.call(storageDetect, params, call);
}

/** Record a probe job's finding for the mount holding `path` (written to `<root>/storage.json`). */
export function markStorageVerified(conn: Connection, p: ParamsIn<typeof storageMarkVerified>, o?: CallOptions): Promise<StorageVerification> {
  return conn.call(storageMarkVerified, p, o);
}
