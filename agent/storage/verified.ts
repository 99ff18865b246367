/**
 * The verification hook: `<root>/storage.json` holds what a probe job saw
 * from a compute node, keyed by mount point. Detection reads it and lets a
 * record override the fs-type guess (`verified: true`). The jobs layer writes
 * records through `storage.markVerified` (or `markVerified` here).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StorageVerification } from '../../protocol/index.js';

interface CacheFile {
  version: 1;
  verified: Record<string, StorageVerification>;
}

export function storageCachePath(root: string): string {
  return join(root, 'storage.json');
}

export function readVerifications(root: string): Map<string, StorageVerification> {
  try {
    const f = JSON.parse(readFileSync(storageCachePath(root), 'utf8')) as Partial<CacheFile>;
    return new Map(Object.entries(f.verified ?? {}));
  } catch {
    return new Map();
  }
}

/** Add or replace the record for `v.mountPoint`; atomic (temp + rename). Last writer wins. */
export function writeVerification(root: string, v: StorageVerification): void {
  const all = readVerifications(root);
  all.set(v.mountPoint, v);
  const file: CacheFile = { version: 1, verified: Object.fromEntries(all) };
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const tmp = `${storageCachePath(root)}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, storageCachePath(root));
}
