/** Scheduler output parsers on golden data: real Slurm/SGE output, PBS/LSF in their documented shapes. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeWaitStatus, expandTaskRange, parseLsfTime } from '../../agent/jobs/parse/common.js';
import { parseBjobs, parseBsub } from '../../agent/jobs/parse/lsf.js';
import { parsePbsQstat, parseQsubPbs, repairJson } from '../../agent/jobs/parse/pbs.js';
import { parseQacct, parseQstatXml, parseQsub, qacctFinished } from '../../agent/jobs/parse/sge.js';
import { parseSbatch, parseScontrolRecords, parseSqueue, scontrolFinished } from '../../agent/jobs/parse/slurm.js';

const fx = (dir: string, f: string) => readFileSync(join(import.meta.dirname, '..', 'fixtures', dir, f), 'utf8');
const local = (iso: string) => new Date(iso).getTime();

describe('Slurm parsers', () => {
  it('reads the id from sbatch --parsable (and id;cluster)', () => {
    expect(parseSbatch(fx('slurm', 'sbatch-parsable-array.txt'))).toBe('5');
    expect(parseSbatch('1234;cluster2\n')).toBe('1234');
    expect(parseSbatch('sbatch: warning: something\n77\n')).toBe('77');
    expect(parseSbatch('')).toBeNull();
  });

  it('reads every job and array task from the batched squeue line format', () => {
    const e = parseSqueue(fx('slurm', 'squeue-r-O-clustrix.txt'));
    const by = (id: string, index?: number) => e.find((x) => x.jobId === id && x.index === index);
    expect(by('61')).toMatchObject({ state: 'CANCELLED', reason: 'JobHeldUser', exitCode: 0 });
    expect(by('58')).toMatchObject({ state: 'COMPLETED', exitCode: 0, signal: null, startedAt: local('2026-11-23T12:38:43') });
    expect(by('57')).toMatchObject({ state: 'FAILED', reason: 'NonZeroExitCode', exitCode: 3, signal: null });
    expect(by('60')).toMatchObject({ state: 'FAILED', reason: 'JobLaunchFailure', exitCode: null, signal: 'SIGKILL' });
    // Pending tasks of an array carry the array's JobID; a started task has its own.
    expect([1, 2, 3].map((i) => by('59', i)?.state)).toEqual(['PENDING', 'PENDING', 'PENDING']);
    expect(by('59', 1)).toMatchObject({ reason: 'JobArrayTaskLimit' });
    expect(by('59', 1)?.startedAt).toBeUndefined();
    expect(by('59', 0)).toMatchObject({ state: 'RUNNING', startedAt: local('2026-11-23T12:38:44') });
    expect(by('59', 0)?.endedAt).toBeUndefined();
    expect(by('42')).toMatchObject({ state: 'TIMEOUT', reason: 'TimeLimit', exitCode: 143 });
    expect(e).toHaveLength(9);
  });

  it('reads scontrol show job records, multi-line and one-line alike', () => {
    const multi = parseScontrolRecords(fx('slurm', 'scontrol-show-job-exit3.txt'));
    const one = parseScontrolRecords(fx('slurm', 'scontrol-show-job-exit3-oneline.txt'));
    expect(multi).toHaveLength(1);
    expect(one[0]).toEqual(multi[0]);
    expect(multi[0]).toMatchObject({
      JobId: '9',
      JobName: 'exit3',
      JobState: 'FAILED',
      ExitCode: '3:0',
      'CPUs/Task': '1',
      Partition: 'debug',
      MinMemoryCPU: '100M',
    });
    expect(scontrolFinished(multi[0]!)).toMatchObject({ state: 'FAILED', exitCode: 3, signal: null, reason: 'NonZeroExitCode' });
    const arr = parseScontrolRecords(fx('slurm', 'scontrol-show-job-array-done.txt'));
    expect(arr.map((r) => r.ArrayTaskId).sort()).toEqual(['0', '1', '2', '3']);
    expect(scontrolFinished(parseScontrolRecords(fx('slurm', 'scontrol-show-job-oom.txt'))[0]!)).toMatchObject({
      state: 'FAILED',
      exitCode: null,
      signal: 'SIGKILL',
    });
    expect(scontrolFinished(parseScontrolRecords(fx('slurm', 'scontrol-show-job-timeout.txt'))[0]!)).toMatchObject({
      state: 'TIMEOUT',
      signal: 'SIGTERM',
      wallSec: 80,
    });
  });

  it('decodes raw wait statuses', () => {
    expect(decodeWaitStatus(768)).toEqual({ exitCode: 3, signal: null });
    expect(decodeWaitStatus(9)).toEqual({ exitCode: null, signal: 'SIGKILL' });
    expect(decodeWaitStatus(0)).toEqual({ exitCode: 0, signal: null });
  });
});

describe('Grid Engine parsers', () => {
  it('reads qsub -terse and the plain sentences', () => {
    expect(parseQsub(fx('sge', 'qsub-terse.txt'))).toBe('3');
    expect(parseQsub(fx('sge', 'qsub-terse-array.txt'))).toBe('4');
    expect(parseQsub(fx('sge', 'qsub-plain.txt'))).toBe('5');
    expect(parseQsub(fx('sge', 'qsub-plain-array.txt'))).toBe('6');
  });

  it('reads running and pending jobs from qstat -xml, expanding pending ranges', () => {
    const e = parseQstatXml(fx('sge', 'qstat-xml-running-pending.xml'));
    expect(e.filter((x) => x.jobId === '10')).toEqual([{ jobId: '10', state: 'RUNNING', raw: 'r', startedAt: local('2026-11-23T11:34:27') }]);
    expect(e.find((x) => x.jobId === '12')).toMatchObject({ state: 'PENDING', raw: 'qw' });
    expect(e.find((x) => x.jobId === '13')).toMatchObject({ state: 'PENDING', raw: 'hqw', reason: 'held (hqw)' });
    expect(e.filter((x) => x.jobId === '14').map((x) => x.index)).toEqual([1, 2, 3, 4]);
    const arr = parseQstatXml(fx('sge', 'qstat-xml-array-running.xml'));
    expect(arr.map((x) => [x.index, x.state, x.raw])).toEqual([
      [1, 'RUNNING', 'r'],
      [3, 'RUNNING', 't'],
      [4, 'PENDING', 'qw'],
    ]);
    expect(parseQstatXml(fx('sge', 'qstat-xml-empty.xml'))).toEqual([]);
    expect(parseQstatXml(fx('sge', 'qstat-xml-eqw.xml'))[0]).toMatchObject({ state: 'PENDING', raw: 'Eqw', reason: expect.stringContaining('error state') });
  });

  it('reads qacct records: exit status, the h_rt kill, the h_vmem death, arrays', () => {
    expect(qacctFinished(parseQacct(fx('sge', 'qacct-j-exit3.txt'))[0]!)).toMatchObject({ state: 'FAILED', exitCode: 3, signal: null });
    expect(qacctFinished(parseQacct(fx('sge', 'qacct-j-plain.txt'))[0]!)).toMatchObject({ state: 'COMPLETED', exitCode: 0 });
    const rt = parseQacct(fx('sge', 'qacct-j-h_rt.txt'))[0]!;
    expect(rt).toMatchObject({ failedCode: 37, exitStatus: 137, wallSec: 4, category: '-q long.q -l h_rt=3' });
    expect(qacctFinished(rt)).toMatchObject({ state: 'TIMEOUT', exitCode: 137, signal: 'SIGKILL' });
    expect(qacctFinished(parseQacct(fx('sge', 'qacct-j-h_vmem.txt'))[0]!)).toMatchObject({ state: 'FAILED', exitCode: 139, signal: 'SIGSEGV' });
    expect(parseQacct(fx('sge', 'qacct-j-array.txt')).map((r) => r.taskid)).toEqual([1, 2, 3]);
    expect(parseQacct(fx('sge', 'qacct-j-unknown-error.txt'))).toEqual([]);
  });

  it('expands the task ranges schedulers print', () => {
    expect(expandTaskRange('1-4:1')).toEqual([1, 2, 3, 4]);
    expect(expandTaskRange('1-9:4')).toEqual([1, 5, 9]);
    expect(expandTaskRange('1,2')).toEqual([1, 2]);
    expect(expandTaskRange('1-4%1')).toEqual([1, 2, 3, 4]);
  });
});

describe('PBS parsers', () => {
  it('reads qsub ids, arrays included', () => {
    expect(parseQsubPbs(fx('pbs', 'qsub.txt'))).toBe('1013.pbs01');
    expect(parseQsubPbs(fx('pbs', 'qsub-array.txt'))).toBe('1234[].pbs01');
  });

  it('reads qstat -f -F json: running, queued, held', () => {
    const e = parsePbsQstat(fx('pbs', 'qstat-f-F-json-running-queued.json'));
    expect(e).toEqual([
      { jobId: '1013.pbs01', raw: 'R', state: 'RUNNING', startedAt: new Date(2021, 3, 14, 23, 34, 18).getTime() },
      { jobId: '1014.pbs01', raw: 'Q', state: 'PENDING' },
      { jobId: '1015.pbs01', raw: 'H', state: 'PENDING', reason: 'held' },
    ]);
  });

  it('takes a missing Jobs key as "nothing"', () => {
    expect(parsePbsQstat(fx('pbs', 'qstat-f-F-json-empty.json'))).toEqual([]);
    expect(parsePbsQstat('')).toEqual([]);
  });

  it('survives unquoted numeric-looking env values (invalid JSON) without touching colons in strings', () => {
    const text = fx('pbs', 'qstat-f-F-json-unquoted-env.json');
    expect(() => JSON.parse(text)).toThrow();
    const fixed = JSON.parse(repairJson(text)) as { Jobs: Record<string, { Variable_List: Record<string, unknown>; Exit_status: number }> };
    expect(fixed.Jobs['2001.pbs01']!.Variable_List).toMatchObject({ PBS_O_ZIP: '005', PBS_O_VERSION: '1.2.3', PBS_O_WORKDIR: '/home/alice/a:b' });
    expect(fixed.Jobs['2001.pbs01']!.Exit_status).toBe(0);
    expect(parsePbsQstat(text)).toEqual([{ jobId: '2001.pbs01', raw: 'R', state: 'RUNNING', startedAt: new Date(2021, 3, 14, 23, 40, 1).getTime() }]);
  });

  it('reads array subjobs with -t and skips the array itself', () => {
    const e = parsePbsQstat(fx('pbs', 'qstat-f-F-json-array.json'));
    expect(e.map((x) => [x.jobId, x.index, x.state])).toEqual([
      ['1234[].pbs01', 0, 'COMPLETED'],
      ['1234[].pbs01', 1, 'RUNNING'],
      ['1234[].pbs01', 2, 'PENDING'],
    ]);
  });

  it('reads finished jobs: string exit status, signal kills, walltime', () => {
    const e = parsePbsQstat(fx('pbs', 'qstat-f-F-json-finished.json'));
    const by = (id: string) => e.find((x) => x.jobId === id);
    expect(by('1100.pbs01')).toMatchObject({ state: 'COMPLETED', exitCode: 0 });
    expect(by('1101.pbs01')).toMatchObject({ state: 'FAILED', exitCode: 3 });
    expect(by('1102.pbs01')).toMatchObject({ state: 'FAILED', exitCode: null, signal: 'SIGTERM' });
    expect(by('1103.pbs01')).toMatchObject({ state: 'TIMEOUT', reason: 'job killed: walltime 62 exceeded limit 60' });
    expect(by('1100.pbs01')?.endedAt).toBe(new Date(2021, 3, 15, 0, 10, 5).getTime());
  });
});

describe('LSF parsers', () => {
  it('reads the id from bsub, with or without site banners', () => {
    expect(parseBsub(fx('lsf', 'bsub.txt'))).toBe('327');
    expect(parseBsub(fx('lsf', 'bsub-site-banner.txt'))).toBe('328');
    expect(parseBsub('Request aborted by esub. Job not submitted.\n')).toBeNull();
  });

  it('reads bjobs -json: string values, yearless times, kill reasons, errors, array elements', () => {
    const now = new Date(2026, 10, 23, 12, 0).getTime();
    const e = parseBjobs(fx('lsf', 'bjobs-o-json.json'), now);
    const by = (id: string, index?: number) => e.find((x) => x.jobId === id && x.index === index);
    expect(by('22001')).toMatchObject({ state: 'RUNNING', startedAt: new Date(2026, 10, 23, 11, 31).getTime() });
    expect(by('22001')?.endedAt).toBeUndefined();
    expect(by('22002')).toEqual({ jobId: '22002', state: 'PENDING', raw: 'PEND' });
    expect(by('22005')).toMatchObject({ state: 'COMPLETED', exitCode: 0, endedAt: new Date(2026, 10, 23, 11, 21).getTime() });
    expect(by('22006')).toMatchObject({ state: 'FAILED', exitCode: 3 });
    expect(by('22007')).toMatchObject({ state: 'TIMEOUT', reason: expect.stringContaining('TERM_RUNLIMIT') });
    expect(by('22008')).toMatchObject({ state: 'OUT_OF_MEMORY', exitCode: 137, signal: 'SIGKILL' });
    expect(by('22009')).toMatchObject({ state: 'CANCELLED' });
    expect(by('400', 2)).toMatchObject({ state: 'RUNNING' });
    expect(by('401', 1)).toMatchObject({ state: 'COMPLETED' });
    expect(e.some((x) => x.jobId === '13')).toBe(false);
    expect(e).toHaveLength(9);
  });

  it('puts yearless times in the past year when they would be in the future', () => {
    const now = new Date(2026, 0, 2, 10, 0).getTime();
    expect(parseLsfTime('Dec 31 23:00 L', now)).toBe(new Date(2025, 11, 31, 23, 0).getTime());
    expect(parseLsfTime('Jan  2 09:00', now)).toBe(new Date(2026, 0, 2, 9, 0).getTime());
    expect(parseLsfTime('', now)).toBeUndefined();
  });
});
