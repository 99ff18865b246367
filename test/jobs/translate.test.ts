/**
 * Spec → scheduler argv, golden: every field lands in the right directive,
 * what a scheduler cannot express is an error naming the field, arrays over
 * the site limit are split. Plus the spec schema's normalization and errors.
 */
import { describe, expect, it } from 'vitest';
import type { Runner } from '../../agent/jobs/adapters/exec.js';
import { LsfAdapter } from '../../agent/jobs/adapters/lsf.js';
import { PbsAdapter } from '../../agent/jobs/adapters/pbs.js';
import { SgeAdapter } from '../../agent/jobs/adapters/sge.js';
import { SlurmAdapter } from '../../agent/jobs/adapters/slurm.js';
import type { Adapter, SubmitRequest } from '../../agent/jobs/adapters/types.js';
import { normalizeSpec, planArray } from '../../agent/jobs/spec.js';
import {
  formatIndices,
  jobsSubmit,
  parseDurationSec,
  parseIndices,
  parseMemoryMb,
  parseParams,
  type JobSpecInput,
  type NormalizedJobSpec,
} from '../../protocol/index.js';

const noRun: Runner = { run: () => Promise.reject(new Error('no commands in this test')) };
const ctx = { id: 'mx1abc', jobDir: '/r/jobs/mx1abc', home: '/home/u', envsDir: '/r/envs' };

function parsed(spec: JobSpecInput): NormalizedJobSpec & { _indices?: number[] } {
  const p = parseParams(jobsSubmit, { spec, idempotencyKey: 'k'.repeat(16) });
  const n = normalizeSpec(p.spec, ctx);
  return Object.assign(n.spec, n.indices ? { _indices: n.indices } : {});
}

function req(spec: NormalizedJobSpec & { _indices?: number[] }, a: Adapter, extra: Partial<SubmitRequest> = {}): SubmitRequest {
  const r: SubmitRequest = {
    id: ctx.id,
    jobDir: ctx.jobDir,
    wrapperPath: `${ctx.jobDir}/job.sh`,
    spec,
    schedName: 'train',
    maxConcurrent: spec.array?.maxConcurrent ?? 0,
    afterok: [],
    afterany: [],
    schedLog: a.schedLogPattern(ctx.jobDir, !!spec.array, 0),
  };
  if (spec._indices) r.indices = spec._indices;
  return Object.assign(r, extra);
}

const full: JobSpecInput = {
  command: ['python', 'train.py'],
  name: 'train',
  resources: { cpus: 4, memory: '8G', time: '1-02:00:00', partition: 'gpu', account: 'proj1' },
  array: '0-9%2',
};

describe('the spec schema', () => {
  it('normalizes memory, time and arrays whatever form they came in', () => {
    expect(parseMemoryMb('8G')).toBe(8192);
    expect(parseMemoryMb('1.5GB')).toBe(1536);
    expect(parseMemoryMb('512')).toBe(512);
    expect(parseMemoryMb(100)).toBe(100);
    expect(parseMemoryMb('100K')).toBe(1);
    expect(parseMemoryMb('lots')).toBeNull();
    expect(parseDurationSec('1-02:00:00')).toBe(93600);
    expect(parseDurationSec('10:00')).toBe(600);
    expect(parseDurationSec('30')).toBe(1800);
    expect(parseDurationSec('1:30:00')).toBe(5400);
    expect(parseDurationSec('90m')).toBe(5400);
    expect(parseDurationSec('1h30m')).toBe(5400);
    expect(parseDurationSec(45)).toBe(45);
    expect(parseDurationSec('soon')).toBeNull();
    expect(parseIndices('1-10:3,20')).toEqual([1, 4, 7, 10, 20]);
    expect(formatIndices([0, 1, 2, 3, 5, 7, 9, 20])).toBe('0-3,5-9:2,20');
    expect(formatIndices([4])).toBe('4');
    const s = parsed(full);
    expect(s.resources).toEqual({ cpus: 4, memoryMb: 8192, timeSec: 93600, partition: 'gpu', account: 'proj1' });
    expect(s.array).toEqual({ indices: '0-9', count: 10, maxConcurrent: 2 });
    expect(s.workdir).toBe('/home/u');
    expect(s.stdout).toBe('/r/jobs/mx1abc/tasks/{task}.stdout');
  });

  it.each([
    [{ command: ['x'], script: 'y' }, 'params.spec', /exactly one of command/],
    [{}, 'params.spec', /exactly one of command/],
    [{ command: [] }, 'params.spec.command', /at least one word/],
    [{ command: ['x'], resources: { memory: 'lots' } }, 'params.spec.resources.memory', /not a size/],
    [{ command: ['x'], resources: { time: 'soon' } }, 'params.spec.resources.time', /not a duration/],
    [{ command: ['x'], resources: { cpus: 0 } }, 'params.spec.resources.cpus', /at least 1/],
    [{ command: ['x'], resources: { cpus: 1.5 } }, 'params.spec.resources.cpus', /whole number/],
    [{ command: ['x'], array: '5-1' }, 'params.spec.array', /ends before it starts/],
    [{ command: ['x'], env: { 'BAD-NAME': 'v' } }, 'params.spec.env.BAD-NAME', /\[A-Za-z_\]/],
    [{ command: ['x'], modules: ['gcc; rm -rf ~'] }, 'params.spec.modules.0', /module names/],
    [{ command: ['x'], resources: { partition: 'a\nb' } }, 'params.spec.resources.partition', /one line/],
    [{ command: ['x'], directives: ['--x\n--y'] }, 'params.spec.directives.0', /one line/],
  ])('rejects %j naming %s', (spec, path, msg) => {
    let err: { code?: string; message?: string; details?: { issues: { path: string }[] } } = {};
    try {
      parsed(spec);
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.code).toBe('INVALID_PARAMS');
    expect(err.message).toMatch(msg);
    expect(err.details?.issues[0]?.path).toBe(path);
  });

  it('expands output templates and refuses %a on a plain job', () => {
    const s = parsed({ command: ['x'], name: 'n', workdir: '~/w', stdout: 'out-%j-%x.txt', stderr: '/abs/%%err' });
    expect(s.workdir).toBe('/home/u/w');
    expect(s.stdout).toBe('/home/u/w/out-mx1abc-n.txt');
    expect(s.stderr).toBe('/abs/%err');
    expect(() => parsed({ command: ['x'], stdout: 'o.%a' })).toThrow(/params.spec.stdout: %a/);
    expect(parsed({ command: ['x'], array: 3, stdout: 'o.%a' }).stdout).toBe('/home/u/o.{task}');
  });
});

describe('Slurm translation', () => {
  const a = new SlurmAdapter(noRun, 'u');
  it('puts every field in its sbatch option', () => {
    const s = parsed({
      ...full,
      resources: { ...full.resources, gpus: 'a100:2', nodes: 1, tasks: 2, qos: 'high', constraint: 'avx512', exclusive: true },
      directives: ['--reservation=r1'],
    });
    expect(a.submitArgv(req(s, a, { afterok: ['11', '12'], afterany: ['13'] }))).toEqual({
      cmd: 'sbatch',
      args: [
        '--parsable',
        '--job-name=train',
        '--chdir=/r/jobs/mx1abc',
        '--output=/r/jobs/mx1abc/sched/slurm-%A_%a.log',
        '--comment=clustrix:mx1abc',
        '--cpus-per-task=4',
        '--mem=8192M',
        '--time=1-02:00:00',
        '--gpus=a100:2',
        '--nodes=1',
        '--ntasks=2',
        '--partition=gpu',
        '--account=proj1',
        '--qos=high',
        '--constraint=avx512',
        '--exclusive',
        '--array=0-9%2',
        '--dependency=afterok:11:12,afterany:13',
        '--reservation=r1',
        '/r/jobs/mx1abc/job.sh',
      ],
    });
  });
});

describe('Grid Engine translation', () => {
  const a = new SgeAdapter(noRun, 'u', 'smp');
  it('puts every field it can express in a qsub option', () => {
    const s = parsed({ ...full, array: { indices: '1-10', maxConcurrent: 2 } });
    expect(a.submitArgv(req(s, a, { afterany: ['7'] }))).toEqual({
      cmd: 'qsub',
      args: [
        '-terse',
        '-S',
        '/bin/sh',
        '-N',
        'train',
        '-wd',
        '/r/jobs/mx1abc',
        '-o',
        '/r/jobs/mx1abc/sched/sge-$JOB_ID.$TASK_ID.log',
        '-j',
        'y',
        '-pe',
        'smp',
        '4',
        '-l',
        'h_rt=93600,h_vmem=2048M',
        '-q',
        'gpu',
        '-A',
        'proj1',
        '-t',
        '1-10',
        '-tc',
        '2',
        '-hold_jid',
        '7',
        '/r/jobs/mx1abc/job.sh',
      ],
    });
  });

  it.each([
    [{ gpus: 1 }, 'resources.gpus'],
    [{ qos: 'q' }, 'resources.qos'],
    [{ constraint: 'c' }, 'resources.constraint'],
    [{ exclusive: true }, 'resources.exclusive'],
    [{ nodes: 2 }, 'resources.nodes'],
    [{ tasks: 4 }, 'resources.tasks'],
  ])('refuses %j: UNSUPPORTED naming %s', (resources, field) => {
    const s = parsed({ command: ['x'], resources });
    expect(() => a.submitArgv(req(s, a))).toThrow(expect.objectContaining({ code: 'UNSUPPORTED', message: expect.stringContaining(`spec.${field}`) }));
  });

  it('refuses afterok (hold_jid waits for any end)', () => {
    expect(() => a.submitArgv(req(parsed({ command: ['x'] }), a, { afterok: ['3'] }))).toThrow(/spec.dependencies.afterok/);
  });
});

describe('PBS translation', () => {
  const a = new PbsAdapter(noRun);
  it('builds one select statement, walltime, -J and -W depend', () => {
    const s = parsed({ ...full, resources: { ...full.resources, gpus: 2, nodes: 2, tasks: 8, exclusive: true } });
    expect(a.submitArgv(req(s, a, { afterok: ['10.srv'] }))).toEqual({
      cmd: 'qsub',
      args: [
        '-N',
        'train',
        '-o',
        '/r/jobs/mx1abc/sched/pbs-c0.^array_index^.log',
        '-j',
        'oe',
        '-S',
        '/bin/sh',
        '-l',
        'select=2:ncpus=4:mem=8192mb:ngpus=2:mpiprocs=4',
        '-l',
        'walltime=26:00:00',
        '-l',
        'place=scatter:excl',
        '-q',
        'gpu',
        '-A',
        'proj1',
        '-J',
        '0-9%2',
        '-W',
        'depend=afterok:10.srv',
        '/r/jobs/mx1abc/job.sh',
      ],
    });
  });

  it('refuses qos, constraint and typed gpus', () => {
    expect(() => a.submitArgv(req(parsed({ command: ['x'], resources: { qos: 'q' } }), a))).toThrow(/spec.resources.qos/);
    expect(() => a.submitArgv(req(parsed({ command: ['x'], resources: { constraint: 'c' } }), a))).toThrow(/spec.resources.constraint/);
    expect(() => a.submitArgv(req(parsed({ command: ['x'], resources: { gpus: 'v100:1' } }), a))).toThrow(/spec.resources.gpus/);
  });
});

describe('LSF translation', () => {
  const a = new LsfAdapter(noRun, () => '#!/bin/sh\necho wrapper\n');
  it('sends the script on stdin, with units on memory and minutes on time', () => {
    const s = parsed({ ...full, array: '1-10%2', resources: { ...full.resources, gpus: 'a100:2', nodes: 1, constraint: 'avx2', exclusive: true } });
    expect(a.submitArgv(req(s, a, { afterok: ['5'], afterany: ['6'] }))).toEqual({
      cmd: 'bsub',
      args: [
        '-J',
        'train[1-10]%2',
        '-cwd',
        '/r/jobs/mx1abc',
        '-o',
        '/r/jobs/mx1abc/sched/lsf-%J_%I.log',
        '-n',
        '4',
        '-M',
        '8192MB',
        '-R',
        'span[hosts=1] select[avx2] rusage[mem=8192MB]',
        '-W',
        '26:00',
        '-gpu',
        'num=2:gmodel=a100',
        '-x',
        '-q',
        'gpu',
        '-P',
        'proj1',
        '-w',
        'done(5) && ended(6)',
      ],
      stdin: '#!/bin/sh\necho wrapper\n',
    });
  });

  it('refuses qos', () => {
    expect(() => a.submitArgv(req(parsed({ command: ['x'], resources: { qos: 'q' } }), a))).toThrow(/spec.resources.qos/);
  });
});

describe('array splitting', () => {
  it('keeps indices as they are when the array fits', () => {
    expect(planArray([0, 1, 2, 3], { maxIndex: 1000, maxCount: 1001 }, 0, false)).toEqual([{ indices: [0, 1, 2, 3], native: [0, 1, 2, 3], offset: 0 }]);
  });

  it('renumbers from the scheduler base (SGE starts at 1)', () => {
    expect(planArray([0, 1, 2, 3], { maxIndex: 2 ** 31, maxCount: 75000 }, 1, true)).toEqual([{ indices: [0, 1, 2, 3], native: [1, 2, 3, 4], offset: -1 }]);
  });

  it('splits 2,500 tasks over a MaxArraySize of 1001 into chunks of 1,001 with offsets', () => {
    const idx = Array.from({ length: 2500 }, (_, i) => i);
    const plan = planArray(idx, { maxIndex: 1000, maxCount: 1001 }, 0, false);
    expect(plan.map((p) => [p.indices.length, p.offset, p.native[0], p.native.at(-1)])).toEqual([
      [1001, 0, 0, 1000],
      [1001, 1001, 0, 1000],
      [498, 2002, 0, 497],
    ]);
    expect(plan.flatMap((p) => p.indices)).toEqual(idx);
  });

  it('maps a scattered list through a table when the scheduler takes ranges only', () => {
    expect(planArray([1, 5, 6], { maxIndex: 2 ** 31, maxCount: 100 }, 1, true)).toEqual([
      { indices: [1, 5, 6], native: [1, 2, 3], offset: 0, table: [1, 5, 6] },
    ]);
  });
});
