/**
 * Storage handlers:
 *
 *   registerStorageHandlers(registry, { root, home, host, jobs, inUse })
 *
 * `storage.detect` reads /proc/self/mountinfo (mountinfo.ts, pure), resolves
 * the conventional locations (detect.ts), runs quota tools (quota.ts) and
 * applies probe-job verifications from `<root>/storage.json` (verified.ts).
 * `storage.verify` runs the probe job (probe.ts) through the jobs service.
 * `storage.markVerified` records evidence gathered some other way.
 * Where the agent itself keeps job files is decided at its start (placement.ts).
 */
import { readFile, realpath } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import {
  ProtocolError,
  storageDetect,
  storageMarkVerified,
  storageVerify,
  type MountEntry,
  type PlacementInUse,
  type StorageReport,
  type StorageVerifyProgress,
} from '../../protocol/index.js';
import type { JobService } from '../jobs/service.js';
import type { Registry } from '../registry.js';
import { detectStorage } from './detect.js';
import { mountFor, parseMountinfo } from './mountinfo.js';
import { verifyStorage } from './probe.js';
import { readVerifications, writeVerification } from './verified.js';

export interface StorageHandlerOptions {
  root: string;
  home: string;
  host: string;
  /** Mount table source, for tests. Default /proc/self/mountinfo. */
  mountinfoPath?: string;
  /** The agent's jobs service: storage.verify submits its probe job there. */
  jobs?: JobService;
  /** Where this agent keeps job files (resolvePlacement at start); reported as `inUse`. */
  inUse?: PlacementInUse;
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
  const user = userInfo().username;
  const detect = async (p: { quota: boolean; callTimeoutMs: number }): Promise<StorageReport> => {
    const r = await detectStorage({
      home: opts.home,
      root: opts.root,
      host: opts.host,
      user,
      env: process.env,
      mounts: await readMounts(mountinfo),
      verifications: readVerifications(opts.root),
      quota: p.quota,
      callTimeoutMs: p.callTimeoutMs,
    });
    if (opts.inUse) r.inUse = opts.inUse;
    return r;
  };
  registry.unary(storageDetect, (p) => detect(p));
  registry.stream(storageVerify, async (p, ctx) => {
    const jobs = opts.jobs;
    if (!jobs) throw new ProtocolError('UNSUPPORTED', 'storage.verify needs the jobs service, which this agent was started without');
    // Progress is sent in order by one chain; the probe never waits for a slow client.
    let chain = Promise.resolve();
    const progress = (ev: StorageVerifyProgress) => {
      chain = chain.then(() => ctx.send(ev)).catch(() => {});
    };
    try {
      return await verifyStorage(
        p,
        { root: opts.root, user, host: opts.host, jobs, detect: (quota) => detect({ quota, callTimeoutMs: p.callTimeoutMs }) },
        progress,
        ctx.signal,
      );
    } finally {
      await chain;
    }
  });
  registry.unary(storageMarkVerified, async (p) => {
    const real = await realpath(isAbsolute(p.path) ? p.path : resolve(opts.home, p.path));
    const m = mountFor(await readMounts(mountinfo), real);
    if (!m) throw new ProtocolError('NOT_FOUND', `no mount holds ${real}`);
    const rec = { mountPoint: m.mountPoint, path: real, shared: p.shared, verifiedAt: Date.now(), evidence: p.evidence };
    writeVerification(opts.root, rec);
    return rec;
  });
}
