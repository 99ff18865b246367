/** From marker observations to verdicts (pure), and which storage.json record applies to a location. */
import { describe, expect, it } from 'vitest';
import type { StorageVerification } from '../../protocol/index.js';
import type { ComputeMarker } from '../../agent/storage/probe-script.js';
import { decideVerdicts, sameMachine, type ProbeObservations } from '../../agent/storage/verdict.js';
import { verificationFor } from '../../agent/storage/verified.js';

const marker = (all: string, index: number, host = 'c042'): ComputeMarker => ({ host, saw: all[index] === '1', index, all });

function obs(dirs: (ComputeMarker | null)[], more: Partial<ProbeObservations> = {}): ProbeObservations {
  return {
    jobId: 'j1',
    scheduler: 'slurm',
    state: 'COMPLETED',
    reason: null,
    loginHost: 'login1.cluster.org',
    dirs: dirs.map((marker, k) => ({ probeDir: `/d${k}`, marker })),
    ...more,
  };
}

describe('probe verdicts', () => {
  it('shared where both markers crossed, not shared where neither did', () => {
    const v = decideVerdicts(obs([marker('10', 0), null]));
    expect(v.dirs.map((d) => [d.verdict, d.computeSaw, d.loginSaw])).toEqual([
      ['shared', true, true],
      ['not-shared', false, false],
    ]);
    expect(v).toMatchObject({ computeHost: 'c042', sameHost: false, ran: true });
    expect(v.where).toBe('probe job j1 (slurm) ran on c042');
  });

  it('is inconclusive when only one direction worked', () => {
    // The compute node saw our marker in d1 but its own never appeared there; in d0 it did not see ours yet its own appeared.
    const v = decideVerdicts(obs([marker('01', 0), null]));
    expect(v.dirs.map((d) => d.verdict)).toEqual(['inconclusive', 'inconclusive']);
    expect(v.dirs[0]!.reason).toMatch(/did not see the login node's/);
    expect(v.dirs[1]!.reason).toMatch(/its own did not appear/);
  });

  it('a completed job whose markers reached nowhere: nothing is shared', () => {
    const v = decideVerdicts(obs([null, null]));
    expect(v.dirs.map((d) => [d.verdict, d.computeSaw])).toEqual([
      ['not-shared', null],
      ['not-shared', null],
    ]);
    expect(v.computeHost).toBeNull();
  });

  it('a job that never ran the probe proves nothing', () => {
    const v = decideVerdicts(obs([null], { state: 'FAILED', reason: 'could not open output' }));
    expect(v.ran).toBe(false);
    expect(v.dirs[0]).toMatchObject({ verdict: 'inconclusive' });
    expect(v.dirs[0]!.reason).toMatch(/FAILED \(could not open output\) without running the probe/);
  });

  it('a job that failed after writing markers did run', () => {
    const v = decideVerdicts(obs([marker('1', 0)], { state: 'FAILED' }));
    expect(v.dirs[0]!.verdict).toBe('shared');
  });

  it('says so when the probe ran on the login node itself', () => {
    const v = decideVerdicts(obs([marker('1', 0, 'login1')]));
    expect(v.sameHost).toBe(true);
    expect(v.where).toMatch(/ran on login1, the login node itself/);
    const local = decideVerdicts(obs([null], { scheduler: 'local', state: 'FAILED' }));
    expect(local).toMatchObject({ computeHost: 'login1.cluster.org', sameHost: true });
  });

  it('ignores a marker whose report does not cover every dir', () => {
    const v = decideVerdicts(obs([{ host: 'c1', saw: true, index: 0, all: '1' }, null]));
    expect(v.dirs[1]).toMatchObject({ verdict: 'not-shared', computeSaw: null });
  });

  it('compares host names by their short form', () => {
    expect(sameMachine('Node1', 'node1.example.org')).toBe(true);
    expect(sameMachine('node1', 'node10')).toBe(false);
  });
});

describe('which verification applies', () => {
  const rec = (path: string, mountPoint: string, shared: boolean, verifiedAt = 1): StorageVerification => ({
    path,
    mountPoint,
    shared,
    verifiedAt,
    evidence: '',
  });

  it('its own path first, then an agreeing record on the same mount (the newest)', () => {
    const recs = [rec('/a', '/', false, 1), rec('/b', '/', false, 5)];
    expect(verificationFor(recs, '/a', '/').record?.verifiedAt).toBe(1);
    expect(verificationFor(recs, '/c', '/').record?.verifiedAt).toBe(5);
    expect(verificationFor(recs, '/x', '/scratch')).toEqual({ record: null, conflict: false });
  });

  it('none when records on the mount disagree', () => {
    const recs = [rec('/a', '/', true), rec('/b', '/', false)];
    expect(verificationFor(recs, '/c', '/')).toEqual({ record: null, conflict: true });
    expect(verificationFor(recs, '/b', '/').record?.shared).toBe(false);
  });
});
