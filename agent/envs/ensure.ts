/**
 * envs.ensure: reuse `<root>/envs/<hash>/` when it is ready, else take the
 * build lease and build it in `<root>/envs/.build-<hash16>-<rand>/`, then
 * write `ready.json` and rename the build dir into place (atomic: an env
 * directory exists only when complete). Without the lease, wait for the
 * holder with bounded backoff; an expired lease is stolen.
 *
 * A failed command fails the call with code SCHEDULER (the code for "a site
 * command failed": details carry `step`, `argv`, `exitCode`, `signal`,
 * `outputTail`) and removes the build dir; no ready env is left behind.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { ProtocolError, type EnvEnsureResult, type EnvReady, type EnvSpec } from '../../protocol/index.js';
import { LEASE_MS, tryAcquireLease, type Lease, type LeaseRecord } from './lease.js';
import { runStep } from './run.js';
import { activateScript, buildSteps, normalizeSpec, preludeScript, specHash } from './spec.js';

/** The error code of a failed build command. See docs/STORAGE-ENVS.md for why this one. */
export const BUILD_FAILED_CODE = 'SCHEDULER' as const;
/** Longest pause between two looks at another builder's progress, ms. */
export const POLL_MAX_MS = 2000;

export interface EnsureDeps {
  root: string;
  /** Where environments live (the agent's placement). Default `<root>/envs`. */
  envsDir?: string;
  home: string;
  host: string;
  pid: number;
  /** Lease length, ms (tests shorten it). Default LEASE_MS. */
  leaseMs?: number;
}

export interface EnsureParams {
  spec: EnvSpec;
  waitTimeoutMs: number;
  commandTimeoutMs: number;
}

export type LogFn = (stream: 'stdout' | 'stderr' | 'info', lines: string[]) => void;

async function readReady(dir: string): Promise<EnvReady | null> {
  try {
    return JSON.parse(await readFile(join(dir, 'ready.json'), 'utf8')) as EnvReady;
  } catch {
    return null;
  }
}

function cancelled(signal: AbortSignal): never {
  throw signal.reason instanceof ProtocolError ? signal.reason : new ProtocolError('CANCELLED', 'envs.ensure cancelled');
}

export async function ensureEnv(p: EnsureParams, deps: EnsureDeps, log: LogFn, signal: AbortSignal): Promise<EnvEnsureResult> {
  const started = Date.now();
  const spec = normalizeSpec(p.spec, deps.home);
  const hash = await specHash(spec);
  const envsDir = deps.envsDir ?? join(deps.root, 'envs');
  const path = join(envsDir, hash);
  const result = (built: boolean): EnvEnsureResult => ({ hash, path, activate: join(path, 'activate'), built, durationMs: Date.now() - started });
  await mkdir(envsDir, { recursive: true, mode: 0o700 });
  if (await readReady(path)) return result(false);

  const leasePath = join(envsDir, `${hash}.lease`);
  const leaseMs = deps.leaseMs ?? LEASE_MS;
  let delay = 100;
  let announced: string | null = null;
  for (;;) {
    if (signal.aborted) cancelled(signal);
    if (await readReady(path)) return result(false);
    const got = tryAcquireLease(leasePath, { host: deps.host, pid: deps.pid }, leaseMs);
    if ('renew' in got) {
      try {
        if (await readReady(path)) return result(false); // finished between our look and the lease
        const built = await build(spec, hash, path, envsDir, got, leaseMs, p.commandTimeoutMs, log, signal);
        return result(built);
      } finally {
        got.release();
      }
    }
    announce(got.heldBy);
    if (Date.now() - started > p.waitTimeoutMs) {
      throw new ProtocolError('TIMEOUT', `envs.ensure: gave up after ${p.waitTimeoutMs} ms waiting for the build of ${hash}`, { holder: got.heldBy });
    }
    try {
      await sleep(delay, undefined, { signal });
    } catch {
      cancelled(signal);
    }
    delay = Math.min(delay * 2, POLL_MAX_MS);
  }

  function announce(h: LeaseRecord | null): void {
    if (!h || h.token === announced) return;
    announced = h.token;
    log('info', [`waiting: ${h.host} pid ${h.pid} is building ${hash.slice(0, 16)} (lease until ${new Date(h.expiresAt).toISOString()})`]);
  }
}

/** Build into a temp dir and move it into place. True if ours landed, false if another builder's did first. */
async function build(
  spec: EnvSpec,
  hash: string,
  path: string,
  envsDir: string,
  lease: Lease,
  leaseMs: number,
  commandTimeoutMs: number,
  log: LogFn,
  signal: AbortSignal,
): Promise<boolean> {
  const t0 = Date.now();
  const prefix = `.build-${hash.slice(0, 16)}-`;
  // We hold the lease, so any build dir of this hash is left over from a builder that died.
  for (const n of await readdir(envsDir)) if (n.startsWith(prefix)) await rm(join(envsDir, n), { recursive: true, force: true });
  const dir = join(envsDir, prefix + randomBytes(6).toString('hex'));
  const ac = new AbortController();
  const onAbort = () => ac.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  let lost = false;
  const renewer = setInterval(
    () => {
      try {
        if (!lease.renew()) {
          lost = true;
          ac.abort(new ProtocolError('CONFLICT', `lost the build lease of ${hash} (another builder stole it after it expired)`));
        }
      } catch {
        /* a failed renewal is retried next tick; expiry is far off */
      }
    },
    Math.max(250, Math.floor(leaseMs / 4)),
  );
  let landed = false;
  try {
    log('info', [`building ${hash.slice(0, 16)} in ${dir}`]);
    await mkdir(dir, { mode: 0o755 });
    const prelude = join(dir, 'prelude.sh');
    await writeFile(prelude, preludeScript(spec));
    await writeFile(join(dir, 'activate'), activateScript(spec, path, hash));
    await writeFile(join(dir, 'spec.json'), JSON.stringify(spec, null, 2) + '\n');
    if (spec.node) {
      await mkdir(join(dir, 'node'));
      const lf = spec.node.lockfileDir;
      if (lf) for (const f of ['package.json', 'package-lock.json']) await copyFile(join(lf, f), join(dir, 'node', f));
    }
    const env = { ...process.env, npm_config_update_notifier: 'false', PIP_DISABLE_PIP_VERSION_CHECK: '1' };
    for (const step of buildSteps(spec, dir)) {
      log('info', [`$ ${step.argv.join(' ')}`]);
      const r = await runStep(step.argv, { cwd: step.cwd, prelude, env, timeoutMs: commandTimeoutMs, signal: ac.signal, onLines: log });
      if (ac.signal.aborted) cancelledOrLost();
      if (r.exitCode !== 0) {
        const how = r.timedOut ? `timed out after ${commandTimeoutMs} ms` : r.signal ? `was killed by ${r.signal}` : `exited with ${r.exitCode}`;
        throw new ProtocolError(BUILD_FAILED_CODE, `envs.ensure: ${step.what} ${how}`, {
          step: step.what,
          argv: step.argv,
          exitCode: r.exitCode,
          signal: r.signal,
          outputTail: r.tail,
        });
      }
    }
    const ready: EnvReady = { hash, builtAt: Date.now(), host: lease.record.host, pid: lease.record.pid, buildMs: Date.now() - t0 };
    await writeFile(join(dir, 'ready.json'), JSON.stringify(ready) + '\n');
    if (!lease.renew()) cancelledOrLost(true);
    try {
      await rename(dir, path);
      landed = true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      if (!(await readReady(path))) throw new ProtocolError('CONFLICT', `${path} exists but is not a ready environment; remove it`);
      log('info', ['another builder finished first; using its environment']);
    }
    log('info', [landed ? `ready: ${path}` : `ready (built elsewhere): ${path}`]);
    return landed;
  } finally {
    clearInterval(renewer);
    signal.removeEventListener('abort', onAbort);
    if (!landed) await rm(dir, { recursive: true, force: true });
  }

  function cancelledOrLost(stolen = false): never {
    if (lost || stolen) throw new ProtocolError('CONFLICT', `lost the build lease of ${hash} (another builder stole it after it expired)`);
    cancelled(signal);
  }
}
