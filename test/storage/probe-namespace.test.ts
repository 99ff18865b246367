/**
 * A real "other host" for the probe, without faking anything: the probe
 * script runs in a private mount namespace where a tmpfs covers one of the
 * two probed directories, exactly as a compute node that mounts its own
 * filesystem on a path the login node has as a plain directory. That
 * directory must come out not shared, the other shared.
 *
 * Needs `unshare --mount` (root, or user namespaces): skipped with the reason
 * when not permitted, a failure under CI=true.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { collectComputeMarkers, removeMarkers, writeLoginMarker } from '../../agent/storage/markers.js';
import { computeMarkerName, probeArgv } from '../../agent/storage/probe-script.js';
import { decideVerdicts } from '../../agent/storage/verdict.js';

const run = promisify(execFile);

function unshareProblem(): string {
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', '/bin/sh', '-c', 'mount -t tmpfs clx-probe-check /mnt'], { encoding: 'utf8' });
  if (r.error) return `unshare is not available: ${r.error.message}`;
  if (r.status !== 0) return `unshare --mount with a tmpfs is not permitted here: ${r.stderr.trim()}`;
  return '';
}

const reason = unshareProblem();
const suite = 'the probe across a mount namespace';
if (reason && process.env.CI === 'true') throw new Error(`storage suite "${suite}" needs unshare --mount: ${reason}`);
if (reason) process.stderr.write(`[skip] ${suite}: ${reason}\n`);

let base: string;
afterEach(() => base && rmSync(base, { recursive: true, force: true }));

(reason ? describe.skip : describe)(reason ? `${suite} (skipped: ${reason})` : suite, () => {
  it('reports the directory the "compute node" has a tmpfs over as not shared, the other as shared', async () => {
    base = mkdtempSync(join(tmpdir(), "clx-ns 'probe' $(x)-"));
    const shared = join(base, 'shared dir');
    const covered = join(base, 'covered "dir"');
    mkdirSync(shared);
    mkdirSync(covered);
    const nonce = 'feedc0de'.repeat(4);
    for (const d of [shared, covered]) await writeLoginMarker(d, nonce, 5000);

    // The "compute node": a private mount namespace with a tmpfs over `covered`. Paths are argv only.
    const argv = probeArgv(nonce, [shared, covered]);
    await run('unshare', [
      '--mount',
      '--propagation',
      'private',
      '/bin/sh',
      '-c',
      'mount -t tmpfs clx-probe "$1" && shift && exec "$@"',
      'sh',
      covered,
      ...argv,
    ]);

    // Its marker in `covered` went into the tmpfs, gone with the namespace.
    expect(existsSync(join(shared, computeMarkerName(nonce)))).toBe(true);
    expect(existsSync(join(covered, computeMarkerName(nonce)))).toBe(false);
    const markers = await collectComputeMarkers([shared, covered], nonce, { timeoutMs: 5000 });
    const v = decideVerdicts({
      jobId: 'ns',
      scheduler: 'local',
      state: 'COMPLETED',
      reason: null,
      loginHost: hostname(),
      dirs: [shared, covered].map((probeDir, k) => ({ probeDir, marker: markers[k]! })),
    });
    expect(v.dirs.map((d) => [d.verdict, d.computeSaw, d.loginSaw])).toEqual([
      ['shared', true, true],
      ['not-shared', false, false],
    ]);
    expect(v.sameHost).toBe(true); // one kernel, one host name: the evidence says so

    for (const d of [shared, covered]) expect(await removeMarkers(d, nonce, 5000)).toEqual([]);
    expect(readdirSync(shared)).toEqual([]);
    expect(readdirSync(covered)).toEqual([]);
  });
});
