/**
 * Client-side memory of the last agent reached per (target, root, run dir):
 * its socket path and token. With it, a warm connect skips the remote exec
 * (a login shell and a few processes, 10–60 ms and 3 round trips) and goes
 * straight to the tunnel and the hello. Anything stale (agent restarted,
 * new token, other build) fails the hello and falls back to the normal path.
 *
 * The token is a secret: the files are 0600 in a 0700 directory of the
 * user's cache dir — the same trust as the SSH keys next to it. Disable with
 * `agentCache: false`.
 */
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clustrixCacheDir } from '../cache-dir.js';
import type { ResolvedHost } from './resolve.js';

export interface CachedAgent {
  socket: string;
  token: string;
  build: string;
  runDir: string;
  root: string;
  pid: number;
}

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(clustrixCacheDir(env), 'agents');
}

/** One file per where-we-connect-to: user, host, port, the jump chain, root and run dir. */
export function cacheKey(h: ResolvedHost, root: string | undefined, runDir: string | undefined): string {
  const chain = [...h.jumps, h].map((x) => `${x.user}@${x.hostname}:${x.port}`);
  return createHash('sha256')
    .update(JSON.stringify([chain, root ?? '', runDir ?? '']))
    .digest('hex')
    .slice(0, 32);
}

export function readCachedAgent(key: string): CachedAgent | null {
  try {
    const v = JSON.parse(readFileSync(join(cacheDir(), `${key}.json`), 'utf8')) as CachedAgent;
    return typeof v.socket === 'string' && typeof v.token === 'string' && typeof v.build === 'string' ? v : null;
  } catch {
    return null;
  }
}

export function writeCachedAgent(key: string, v: CachedAgent): void {
  try {
    const dir = cacheDir();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    const file = join(dir, `${key}.json`);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(v), { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    /* a cache: a read-only home must not break connecting */
  }
}

export function dropCachedAgent(key: string): void {
  rmSync(join(cacheDir(), `${key}.json`), { force: true });
}
