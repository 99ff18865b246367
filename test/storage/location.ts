/** A StorageLocation for placement tests: an existing dir on its own mount, with the sharing facts given. */
import type { StorageLocation } from '../../protocol/index.js';

export function location(kind: StorageLocation['kind'], path: string, shared: boolean | null, verified = false): StorageLocation {
  return {
    kind,
    path,
    from: path,
    realPath: path,
    exists: true,
    mountPoint: path,
    fsType: shared ? 'lustre' : 'ext4',
    source: 'x',
    totalBytes: 1,
    freeBytes: 1,
    availBytes: 1,
    totalFiles: 1,
    freeFiles: 1,
    quota: null,
    quotaReason: null,
    shared,
    sharedReason: 'test',
    verified,
    verifiedAt: verified ? 1 : null,
    error: null,
  };
}
