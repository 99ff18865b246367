import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectScheduler } from '../../agent/jobs/detect.js';

const dir = mkdtempSync('/tmp/clx-detect-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A PATH dir holding executables with these names (what detection looks for). */
function pathWith(...cmds: string[]): string {
  const d = mkdtempSync(join(dir, 'bin-'));
  for (const c of cmds) {
    writeFileSync(join(d, c), '#!/bin/sh\nexit 1\n');
    chmodSync(join(d, c), 0o755);
  }
  return d;
}

const none = () => false;

describe('scheduler detection', () => {
  it('picks slurm only when a slurm.conf is known, else says why it fell back to local', () => {
    const PATH = pathWith('sbatch', 'squeue', 'scancel');
    const unconfigured = detectScheduler({ PATH }, none);
    expect(unconfigured.scheduler).toBe('local');
    expect(unconfigured.available).toEqual(['local']);
    expect(unconfigured.how).toMatch(/no slurm\.conf/);
    expect(detectScheduler({ PATH, SLURM_CONF: '/x/slurm.conf' }, none).scheduler).toBe('slurm');
    expect(detectScheduler({ PATH }, (p) => p === '/etc/slurm/slurm.conf').scheduler).toBe('slurm');
  });

  it('picks sge with SGE_ROOT or the default cell, pbs with pbsnodes, lsf with bsub', () => {
    const sge = pathWith('qsub', 'qstat', 'qdel', 'qconf');
    expect(detectScheduler({ PATH: sge }, none).scheduler).toBe('local');
    expect(detectScheduler({ PATH: sge, SGE_ROOT: '/opt/sge' }, none).scheduler).toBe('sge');
    expect(detectScheduler({ PATH: sge }, (p) => p.endsWith('/default/common/act_qmaster')).scheduler).toBe('sge');
    expect(detectScheduler({ PATH: pathWith('qsub', 'qstat', 'qdel', 'pbsnodes') }, none).scheduler).toBe('pbs');
    expect(detectScheduler({ PATH: pathWith('bsub', 'bjobs', 'bkill') }, none).scheduler).toBe('lsf');
    expect(detectScheduler({ PATH: pathWith() }, none)).toEqual({ scheduler: 'local', available: ['local'], how: 'no batch scheduler commands on PATH' });
  });

  it('lets $CLUSTRIX_SCHEDULER override', () => {
    expect(detectScheduler({ PATH: pathWith(), CLUSTRIX_SCHEDULER: 'slurm' }, none)).toMatchObject({ scheduler: 'slurm', how: '$CLUSTRIX_SCHEDULER' });
  });
});
