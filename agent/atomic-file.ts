/**
 * Replace a file so readers see the old or the new content, never a torn
 * one: write a temp file beside it, then rename (atomic on every filesystem
 * a clustrix root may be on, NFS and GPFS included; no flock needed).
 */
import { renameSync, unlinkSync, writeFileSync } from 'node:fs';

let tmpSeq = 0;

export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  const tmp = `${path}.tmp.${process.pid}.${++tmpSeq}`;
  writeFileSync(tmp, data, { mode });
  try {
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      /* gone */
    }
    throw err;
  }
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value));
}
