/**
 * Storage handlers:
 *
 *   registerStorageHandlers(registry, { root, home, host })
 *
 * `storage.detect` reads /proc/self/mountinfo (mountinfo.ts, pure), resolves
 * the conventional locations (detect.ts), runs quota tools (quota.ts) and
 * applies probe-job verifications from `<root>/storage.json` (verified.ts).
 * `storage.markVerified` is the hook the jobs layer calls after a probe job.
 */
import { readFile, realpath } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { ProtocolError, storageDetect, storageMarkVerified, type MountEntry } from '../../protocol/index.js';
import type { Registry } from '../registry.js';
import { detectStorage } from './detect.js';
import { mountFor, parseMountinfo } from './mountinfo.js';
import { readVerifications, writeVerification } from './verified.js';

export interface StorageHandlerOptions {
  root: string;
  home: string;
  host: string;
  /** Mount table source, for tests. Default /proc/self/mountinfo. */
  mountinfoPath?: string;
}

async function readMounts(path: string): Promise<MountEntry[]> {
  try {
    return parseMountinfo(await readFile(path, 'utf8'));
  } catch (err) {
    throw new ProtocolError('UNSUPPORTED', `cannot read the mount table ${path}: ${(err as Error).message}`);
  }
}

export function registerStorageHandlers(registry: Registry, opts: StorageHandlerOptions): void {
  const mountinfo = opts.mountinfoPath ?? '/proc/self/mountinfo';
  registry.unary(storageDetect, async (p) =>
    detectStorage({
      home: opts.home,
      root: opts.root,
      host: opts.host,
      user: userInfo().username,
      env: process.env,
      mounts: await readMounts(mountinfo),
      verifications: readVerifications(opts.root),
      quota: p.quota,
      callTimeoutMs: p.callTimeoutMs,
    }),
  );
  registry.unary(storageMarkVerified, async (p) => {
    const real = await realpath(isAbsolute(p.path) ? p.path : resolve(opts.home, p.path));
    const m = mountFor(await readMounts(mountinfo), real);
    if (!m) throw new ProtocolError('NOT_FOUND', `no mount holds ${real}`);
    const rec = { mountPoint: m.mountPoint, path: real, shared: p.shared, verifiedAt: Date.now(), evidence: p.evidence };
    writeVerification(opts.root, rec);
    return rec;
  });
}
