/** The job commands: flags → spec, the table, exit codes, and the real CLI against the local scheduler. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { exitFor, jobsTable } from '../../client/cli/jobs-commands.js';
import { parseDependency, specFromFlags } from '../../client/cli/job-flags.js';
import type { JobInfo } from '../../protocol/index.js';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli.mjs');

describe('job command helpers', () => {
  it('turns sbatch-like flags into a spec', () => {
    expect(
      specFromFlags(
        {
          jobName: 'n',
          cpusPerTask: 4,
          mem: '8G',
          time: '2:00:00',
          partition: 'gpu',
          gpus: '2',
          array: '0-9%2',
          dependency: 'afterok:a:b,afterany:c',
          module: ['gcc/12'],
          env: ['A=1=2', 'B='],
          chdir: '/w',
          output: 'o.%j',
        },
        ['python', 'train.py'],
        'mycluster',
      ),
    ).toEqual({
      command: ['python', 'train.py'],
      name: 'n',
      resources: { cpus: 4, memory: '8G', time: '2:00:00', partition: 'gpu', gpus: 2 },
      array: '0-9%2',
      dependencies: { afterok: ['a', 'b'], afterany: ['c'] },
      modules: ['gcc/12'],
      env: { A: '1=2', B: '' },
      workdir: '/w',
      stdout: 'o.%j',
    });
    expect(() => specFromFlags({}, [], 'mycluster')).toThrow(/nothing to run/);
    expect(() => specFromFlags({ env: ['NOEQUALS'] }, ['x'], 'mycluster')).toThrow(/NAME=VALUE/);
  });

  it('a local job starts in the current directory (a relative -D under it), a cluster job in home unless -D', () => {
    const cwd = process.cwd();
    expect(specFromFlags({}, ['x'], 'local').workdir).toBe(cwd);
    expect(specFromFlags({ chdir: 'sub' }, ['x'], 'local').workdir).toBe(`${cwd}/sub`);
    expect(specFromFlags({ chdir: '/abs' }, ['x'], 'local').workdir).toBe('/abs');
    expect(specFromFlags({}, ['x'], 'mycluster').workdir).toBeUndefined();
    expect(specFromFlags({ chdir: 'sub' }, ['x'], 'mycluster').workdir).toBe('sub');
    expect(() => parseDependency('after:1')).toThrow(/afterok:ID/);
  });

  it('prints a table and picks exit codes like sbatch --wait', () => {
    const j: JobInfo = {
      id: 'mx1',
      name: 'a\nb',
      scheduler: 'slurm',
      nativeIds: ['12'],
      state: 'FAILED',
      exitCode: 3,
      signal: null,
      submittedAt: 0,
      startedAt: 1000,
      endedAt: 62_000,
      host: 'h',
      workdir: '/',
      stdout: '',
      stderr: '',
    };
    const t = jobsTable([j], 100_000_000);
    expect(t.split('\n')[0]).toMatch(/^ID\s+NAME\s+SCHED\s+NATIVE\s+STATE\s+EXIT\s+SUBMITTED\s+ELAPSED$/);
    expect(t).toContain('mx1  a?b   slurm  12      FAILED  3');
    expect(t).toContain('1m01s');
    expect(exitFor(j)).toBe(3);
    expect(exitFor({ ...j, state: 'COMPLETED' })).toBe(0);
    expect(exitFor({ ...j, state: 'CANCELLED', exitCode: 143, signal: 'SIGTERM' })).toBe(1);
  });
});

describe('clustrix submit / jobs / logs / cancel (local scheduler)', () => {
  const base = mkdtempSync('/tmp/clx-jcli-');
  const cli = (...args: string[]) =>
    run(process.execPath, [CLI, '--root', join(base, 'root'), '--run-dir', join(base, 'run'), ...args]).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
  afterAll(async () => {
    await cli('agent', 'stop', 'local');
    rmSync(base, { recursive: true, force: true });
  });

  it('submits, waits with the job exit code, lists, shows logs, cancels', async () => {
    const w = await cli('submit', 'local', '--scheduler', 'local', '-W', '--parsable', '--', 'sh', '-c', 'echo out; echo err >&2; exit 4');
    expect(w.code).toBe(4);
    const id = w.stdout.trim();
    expect(id).toMatch(/^[0-9a-z]{12}$/);
    expect((await cli('logs', `local:${id}`)).stdout).toBe('out\n');
    expect((await cli('logs', '--stderr', id)).stdout).toBe('err\n');
    const list = JSON.parse((await cli('--json', 'jobs')).stdout) as JobInfo[];
    expect(list.find((j) => j.id === id)).toMatchObject({ state: 'FAILED', exitCode: 4 });
    const s = (await cli('submit', 'local', '--scheduler', 'local', '--parsable', '--', 'sleep', '60')).stdout.trim();
    expect((await cli('cancel', s)).stdout).toBe(`${s}: cancel requested\n`);
    expect((await cli('wait', s)).code).toBe(1);
    expect((await cli('jobs', '--state', 'cancelled')).stdout).toContain(s);
    expect((await cli('submit', 'local', '-c', 'x', '--', 'true')).code).toBe(2);
    expect((await cli('job', 'local:nosuchjob')).code).toBe(3);
  }, 60_000);

  it('a local job runs in the directory it was submitted from, like sbatch', async () => {
    const here = mkdtempSync('/tmp/clx-jcli-cwd-');
    const w = await run(
      process.execPath,
      [CLI, '--root', join(base, 'root'), '--run-dir', join(base, 'run'), 'submit', 'local', '-W', '--parsable', '--', 'pwd'],
      { cwd: here },
    );
    expect((await cli('logs', w.stdout.trim())).stdout).toBe(`${here}\n`);
    rmSync(here, { recursive: true, force: true });
  }, 60_000);
});
