/**
 * Storage detection: which locations matter on this host, what filesystem
 * each is on, how big, how full, what quota, and whether compute nodes can
 * see it (guessed from the fs type until a probe job verifies it).
 *
 * Every external call (realpath, statfs, quota tool) has a time limit: a hung
 * NFS server then costs one libuv thread, not the answer.
 */
import { realpath, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { MountEntry, StorageKind, StorageLocation, StoragePlacement, StorageReport, StorageVerification } from '../../protocol/index.js';
import { guessShared, mountFor, PARALLEL_TYPES } from './mountinfo.js';
import { parseLfsQuota, parseQuotaW, runQuotaTool, type ToolResult } from './quota.js';
import { verificationFor } from './verified.js';

export interface DetectInput {
  home: string;
  root: string;
  user: string;
  host: string;
  env: Readonly<Record<string, string | undefined>>;
  mounts: readonly MountEntry[];
  /** Records from `<root>/storage.json` (verified.ts). */
  verifications: ReadonlyMap<string, StorageVerification>;
  quota: boolean;
  callTimeoutMs: number;
}

export interface Candidate {
  kind: StorageKind;
  path: string;
  from: string;
}

/** The conventional places, in report order. Pure. Duplicated paths are kept once (first wins). */
export function candidates(home: string, root: string, env: Readonly<Record<string, string | undefined>>, mounts: readonly MountEntry[]): Candidate[] {
  const list: Candidate[] = [{ kind: 'home', path: home, from: '$HOME' }];
  const fromEnv = (kind: StorageKind, name: string) => {
    const v = env[name];
    if (v && v.startsWith('/')) list.push({ kind, path: v, from: `$${name}` });
  };
  fromEnv('work', 'WORK');
  fromEnv('project', 'PROJECT');
  for (const p of ['/project', '/projects']) list.push({ kind: 'project', path: p, from: p });
  list.push({ kind: 'work', path: '/work', from: '/work' });
  fromEnv('scratch', 'SCRATCH');
  for (const p of ['/scratch', '/lustre', '/gpfs', '/beegfs']) list.push({ kind: 'scratch', path: p, from: p });
  for (const m of mounts) if (PARALLEL_TYPES.has(m.fsType)) list.push({ kind: 'scratch', path: m.mountPoint, from: 'mount table' });
  list.push({ kind: 'tmp', path: '/tmp', from: '/tmp' });
  fromEnv('node-local', 'TMPDIR');
  for (const p of ['/local', '/scratch/local', '/lscratch', '/localscratch']) list.push({ kind: 'node-local', path: p, from: p });
  list.push({ kind: 'clustrix-root', path: root, from: 'clustrix root' });
  const seen = new Set<string>();
  return list.filter((c) => {
    const key = c.path.replace(/\/+$/, '') || '/';
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** `p`, or a rejection naming `what` after `ms` (the call itself may still finish later, on its libuv thread). */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timer = new Promise<never>((_r, reject) => {
    t = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timer]).finally(() => clearTimeout(t));
}

/** Node-local by convention, whatever the fs type says. */
const LOCAL_KINDS: ReadonlySet<StorageKind> = new Set(['tmp', 'node-local']);

async function describe(c: Candidate, input: DetectInput): Promise<StorageLocation | null> {
  let real: string;
  try {
    real = await withTimeout(realpath(c.path), input.callTimeoutMs, `realpath ${c.path}`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Conventional paths that do not exist are simply not part of this site; named ones are reported.
    if ((code === 'ENOENT' || code === 'ENOTDIR') && !c.from.startsWith('$') && c.kind !== 'home' && c.kind !== 'clustrix-root') return null;
    return blank(c, code === 'ENOENT' ? null : (err as Error).message);
  }
  const loc = blank(c, null);
  loc.exists = true;
  loc.realPath = real;
  const m = mountFor(input.mounts, real);
  if (m) {
    loc.mountPoint = m.mountPoint;
    loc.fsType = m.fsType;
    loc.source = m.source;
    const g = guessShared(m.fsType);
    loc.shared = g.shared;
    loc.sharedReason = g.reason;
    if (LOCAL_KINDS.has(c.kind)) {
      loc.shared = false;
      loc.sharedReason = `${c.from} is node-local by convention (guess)`;
    }
    const { record: v, conflict } = verificationFor(input.verifications.values(), real, m.mountPoint);
    if (v) {
      loc.shared = v.shared;
      loc.verified = true;
      loc.verifiedAt = v.verifiedAt;
      loc.sharedReason = `verified${v.path === real ? '' : ` on ${v.path}, same mount`}: ${v.evidence || `probe of ${v.path}`}`;
    } else if (conflict) {
      loc.sharedReason += `; probes of other paths on ${m.mountPoint} disagree, so none applies here (verify this one)`;
    }
  } else {
    loc.sharedReason = 'no mount found for this path';
  }
  try {
    const s = await withTimeout(statfs(real), input.callTimeoutMs, `statfs ${real}`);
    loc.totalBytes = s.blocks * s.bsize;
    loc.freeBytes = s.bfree * s.bsize;
    loc.availBytes = s.bavail * s.bsize;
    loc.totalFiles = s.files;
    loc.freeFiles = s.ffree;
  } catch (err) {
    loc.error = (err as Error).message;
  }
  return loc;
}

function blank(c: Candidate, error: string | null): StorageLocation {
  return {
    kind: c.kind,
    path: c.path,
    from: c.from,
    realPath: null,
    exists: false,
    mountPoint: null,
    fsType: null,
    source: null,
    totalBytes: null,
    freeBytes: null,
    availBytes: null,
    totalFiles: null,
    freeFiles: null,
    quota: null,
    quotaReason: 'not checked',
    shared: null,
    sharedReason: 'path does not exist',
    verified: false,
    verifiedAt: null,
    error,
  };
}

/** Fill `quota`/`quotaReason`: `lfs quota` per Lustre mount, one `quota -w -u` for the rest. */
async function addQuotas(locs: StorageLocation[], input: DetectInput): Promise<void> {
  let quotaRun: Promise<ToolResult> | null = null;
  const lfsRuns = new Map<string, Promise<ToolResult>>();
  await Promise.all(
    locs.map(async (l) => {
      if (!l.exists || !l.mountPoint || !l.fsType) return;
      if (!input.quota) return void (l.quotaReason = 'quota not requested');
      if (l.fsType === 'tmpfs' || l.fsType === 'overlay') return void (l.quotaReason = `no user quota on ${l.fsType}`);
      if (l.fsType === 'lustre') {
        let run = lfsRuns.get(l.mountPoint);
        if (!run) lfsRuns.set(l.mountPoint, (run = runQuotaTool(['lfs', 'quota', '-u', input.user, l.mountPoint], input.callTimeoutMs)));
        const r = await run;
        if (!r.ok) return void (l.quotaReason = r.reason);
        l.quota = parseLfsQuota(r.stdout, l.mountPoint);
        l.quotaReason = l.quota ? null : 'lfs quota printed no usable row';
        return;
      }
      quotaRun ??= runQuotaTool(['quota', '-w', '-u', input.user], input.callTimeoutMs);
      const r = await quotaRun;
      if (!r.ok) return void (l.quotaReason = r.reason);
      const table = parseQuotaW(r.stdout);
      l.quota = table.get(l.source ?? '') ?? table.get(l.mountPoint) ?? null;
      l.quotaReason = l.quota ? null : `no quota reported for ${l.source ?? l.mountPoint}`;
    }),
  );
}

/**
 * Where jobs/, bundles/, envs/ go. Pure. The clustrix root when it is shared
 * (verified beats guessed); else the first shared work/project/scratch/home
 * location (`<loc>/.clustrix`); else the root, marked `local`.
 */
export function choosePlacement(root: string, locs: readonly StorageLocation[]): StoragePlacement {
  const at = (base: string, basis: StoragePlacement['basis'], reason: string): StoragePlacement => ({
    base,
    jobs: join(base, 'jobs'),
    bundles: join(base, 'bundles'),
    envs: join(base, 'envs'),
    basis,
    reason,
  });
  const rootLoc = locs.find((l) => l.kind === 'clustrix-root');
  if (rootLoc?.shared && rootLoc.verified) return at(root, 'verified-shared', `the clustrix root is on ${rootLoc.fsType}, verified shared`);
  const order: StorageKind[] = ['work', 'project', 'scratch', 'home'];
  const shared = locs.filter((l) => l.exists && l.shared && order.includes(l.kind)).sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
  const verified = shared.find((l) => l.verified);
  if (verified && !rootLoc?.shared) return at(join(verified.path, '.clustrix'), 'verified-shared', `${verified.from} is verified shared; the root is not`);
  if (rootLoc?.shared) return at(root, 'guessed-shared', `the clustrix root is on ${rootLoc.fsType} (${rootLoc.sharedReason})`);
  const guessed = shared[0];
  if (guessed) return at(join(guessed.path, '.clustrix'), 'guessed-shared', `${guessed.from} is on ${guessed.fsType}; the root is not shared`);
  return at(root, 'local', 'no shared filesystem found: compute nodes may not see these files');
}

export async function detectStorage(input: DetectInput): Promise<StorageReport> {
  const cands = candidates(input.home, input.root, input.env, input.mounts);
  const locs = (await Promise.all(cands.map((c) => describe(c, input)))).filter((l): l is StorageLocation => l !== null);
  await addQuotas(locs, input);
  return { host: input.host, user: input.user, detectedAt: Date.now(), root: input.root, locations: locs, placement: choosePlacement(input.root, locs) };
}
