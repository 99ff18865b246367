/** The pure parts of storage detection, on golden mountinfo files and recorded quota output. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { candidates, choosePlacement } from '../../agent/storage/detect.js';
import { guessShared, mountFor, parseMountinfo, parseMountinfoLine } from '../../agent/storage/mountinfo.js';
import { parseLfsQuota, parseQuotaW } from '../../agent/storage/quota.js';
import { location } from './location.js';

const fixture = (name: string) => parseMountinfo(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'mountinfo', name), 'utf8'));

describe('mountinfo parser', () => {
  it('reads every field of a line with optional fields and the separator', () => {
    const e = parseMountinfoLine('49 1 0:41 /scratch /scratch rw,relatime shared:21 master:3 - gpfs fs2 rw');
    expect(e).toEqual({
      id: 49,
      parentId: 1,
      dev: '0:41',
      root: '/scratch',
      mountPoint: '/scratch',
      options: ['rw', 'relatime'],
      optionalFields: ['shared:21', 'master:3'],
      fsType: 'gpfs',
      source: 'fs2',
      superOptions: ['rw'],
    });
  });

  it('reads a line with no optional fields', () => {
    const e = parseMountinfoLine('1 0 8:3 / / rw,relatime - ext4 /dev/sda3 rw,errors=remount-ro');
    expect(e?.optionalFields).toEqual([]);
    expect(e?.fsType).toBe('ext4');
    expect(e?.superOptions).toEqual(['rw', 'errors=remount-ro']);
  });

  it('decodes octal escapes in mount points and sources', () => {
    const m = fixture('gpfs-cluster.txt');
    expect(m.find((e) => e.mountPoint === '/mnt/My Data')?.source).toBe('files.example.org:/vol/My Data');
    expect(m.some((e) => e.mountPoint === '/mnt/tab\tand\\slash')).toBe(true);
  });

  it('skips blank and truncated lines', () => {
    expect(parseMountinfo('\n22 1 0:21 / /proc rw\n1 0 8:3 / / rw - ext4 /dev/sda3 rw\n')).toHaveLength(1);
  });

  it('parses the Lustre cluster', () => {
    const m = fixture('lustre-cluster.txt');
    expect(m).toHaveLength(13);
    expect(mountFor(m, '/lustre/scratch/alice/run1')).toMatchObject({ fsType: 'lustre', source: '10.20.0.11@o2ib:10.20.0.12@o2ib:/scratch' });
    expect(mountFor(m, '/home/alice')).toMatchObject({ fsType: 'nfs4', mountPoint: '/home' });
    expect(mountFor(m, '/tmp/x')?.fsType).toBe('xfs');
    expect(mountFor(m, '/homework')?.mountPoint).toBe('/'); // a prefix is not a parent
  });

  it('parses the GPFS cluster, including sub-tree mounts', () => {
    const m = fixture('gpfs-cluster.txt');
    expect(mountFor(m, '/work/proj1')).toMatchObject({ fsType: 'gpfs', root: '/work', source: 'fs2' });
    expect(mountFor(m, '/tmp')?.fsType).toBe('tmpfs');
  });

  it('parses the NFS + BeeGFS cluster and picks the deepest mount', () => {
    const m = fixture('nfs-beegfs-cluster.txt');
    expect(mountFor(m, '/scratch/alice')).toMatchObject({ fsType: 'beegfs', root: '/scratch' });
    expect(mountFor(m, '/home/alice/overlay/x')?.fsType).toBe('overlay');
    expect(mountFor(m, '/home/alice/data')?.fsType).toBe('nfs');
    expect(mountFor(m, '/project/p1')?.fsType).toBe('cephfs');
  });

  it('takes the last of two mounts on the same point (the one on top)', () => {
    const m = parseMountinfo('1 0 8:1 / / rw - ext4 /dev/sda1 rw\n5 1 8:2 / /data rw - ext4 /dev/sdb rw\n9 5 0:50 / /data rw - nfs srv:/data rw\n');
    expect(mountFor(m, '/data/x')?.fsType).toBe('nfs');
  });
});

describe('shared guess', () => {
  it.each([
    ['lustre', true],
    ['gpfs', true],
    ['beegfs', true],
    ['nfs', true],
    ['nfs4', true],
    ['cephfs', true],
    ['panfs', true],
    ['tmpfs', false],
    ['ext4', false],
    ['xfs', false],
    ['overlay', false],
    ['zfs', false],
    ['weirdfs', null],
  ])('%s → %s', (fs, shared) => {
    expect(guessShared(fs).shared).toBe(shared);
  });
});

describe('candidate locations', () => {
  it('names env locations, conventions and parallel-fs mounts once each', () => {
    const m = fixture('lustre-cluster.txt');
    const c = candidates('/home/alice', '/home/alice/.clustrix', { SCRATCH: '/lustre/scratch/alice', TMPDIR: '/tmp', WORK: 'relative/ignored' }, m);
    const paths = c.map((x) => `${x.kind} ${x.path} ${x.from}`);
    expect(paths).toContain('home /home/alice $HOME');
    expect(paths).toContain('scratch /lustre/scratch/alice $SCRATCH');
    expect(paths).toContain('scratch /lustre/project mount table');
    expect(paths).toContain('tmp /tmp /tmp');
    expect(paths).toContain('node-local /localscratch /localscratch');
    expect(paths).toContain('clustrix-root /home/alice/.clustrix clustrix root');
    expect(paths.filter((p) => p.includes(' /tmp '))).toHaveLength(1); // $TMPDIR=/tmp kept once
    expect(paths.some((p) => p.includes('relative'))).toBe(false);
  });
});

describe('placement of job files', () => {
  it('uses the root when it is guessed shared', () => {
    const p = choosePlacement('/home/a/.clustrix', [location('clustrix-root', '/home/a/.clustrix', true)]);
    expect(p).toMatchObject({ base: '/home/a/.clustrix', basis: 'guessed-shared', jobs: '/home/a/.clustrix/jobs', envs: '/home/a/.clustrix/envs' });
  });
  it('prefers a verified-shared location over a root that is not shared', () => {
    const p = choosePlacement('/r', [location('clustrix-root', '/r', false), location('scratch', '/s', true), location('work', '/w', true, true)]);
    expect(p).toMatchObject({ base: '/w/.clustrix', basis: 'verified-shared' });
  });
  it('falls back to a guessed-shared location, then to the root marked local', () => {
    expect(choosePlacement('/r', [location('clustrix-root', '/r', false), location('scratch', '/s', true)])).toMatchObject({
      base: '/s/.clustrix',
      basis: 'guessed-shared',
    });
    expect(choosePlacement('/r', [location('clustrix-root', '/r', false), location('tmp', '/tmp', false)])).toMatchObject({ base: '/r', basis: 'local' });
  });
  it('says verified-shared when the root itself was verified', () => {
    expect(choosePlacement('/r', [location('clustrix-root', '/r', true, true)]).basis).toBe('verified-shared');
  });
});

describe('quota output parsers', () => {
  it('reads lfs quota with a wrapped filesystem name and an over-quota star', () => {
    const text = [
      'Disk quotas for usr alice (uid 41234):',
      '     Filesystem  kbytes   quota   limit   grace   files   quota   limit   grace',
      '/lustre/scratch',
      '                 5242880*  4194304 10485760  6d23h59m  120034  1000000 2000000       -',
    ].join('\n');
    expect(parseLfsQuota(text, '/lustre/scratch')).toEqual({
      tool: 'lfs',
      usedBytes: 5242880 * 1024,
      softLimitBytes: 4194304 * 1024,
      hardLimitBytes: 10485760 * 1024,
      usedFiles: 120034,
      softLimitFiles: 1000000,
      hardLimitFiles: 2000000,
    });
  });

  it('reads lfs quota on one line with "-" grace', () => {
    const text =
      'Disk quotas for usr alice (uid 41234):\n     Filesystem  kbytes   quota   limit   grace   files   quota   limit   grace\n /lustre/project 1024  0  0  -  7  0  0  -\n';
    expect(parseLfsQuota(text, '/lustre/project')).toMatchObject({ usedBytes: 1024 * 1024, hardLimitBytes: 0, usedFiles: 7 });
  });

  it('reads quota -w with NFS and device rows and empty grace columns', () => {
    const text = [
      'Disk quotas for user alice (uid 1000): ',
      '     Filesystem  blocks   quota   limit   grace   files   quota   limit   grace',
      'nas1:/export/home  8123456  10000000 11000000           81234       0       0        ',
      '      /dev/sda1      12       0       0               3       0       0        ',
    ].join('\n');
    const t = parseQuotaW(text);
    expect(t.get('nas1:/export/home')).toMatchObject({ tool: 'quota', usedBytes: 8123456 * 1024, softLimitBytes: 10000000 * 1024, usedFiles: 81234 });
    expect(t.get('/dev/sda1')).toMatchObject({ usedBytes: 12 * 1024, usedFiles: 3 });
  });
});
