/**
 * The job wrapper, run for real with /bin/sh: it records start and exit,
 * redirects output, exports env and changes directory with every hostile
 * string kept inert, maps array indices (offset and table), and records the
 * signal that ended the command.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sq, wrapperScript } from '../../agent/jobs/wrapper.js';
import type { NormalizedJobSpec } from '../../protocol/index.js';

let dir = '';
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

function setup(spec: Partial<NormalizedJobSpec>, o: { offset?: number; table?: number[]; scheduler?: string } = {}) {
  dir = mkdtempSync('/tmp/clx-wrap-');
  mkdirSync(join(dir, 'tasks'));
  const full: NormalizedJobSpec = {
    workdir: dir,
    env: {},
    modules: [],
    resources: {},
    dependencies: { afterok: [], afterany: [] },
    name: 'n',
    stdout: join(dir, 'stdout'),
    stderr: join(dir, 'stderr'),
    directives: [],
    ...spec,
  };
  let table: { file: string; base: number } | undefined;
  if (o.table) {
    table = { file: join(dir, 'indices-0'), base: 1 };
    writeFileSync(table.file, o.table.join('\n') + '\n');
  }
  const text = wrapperScript({ scheduler: o.scheduler ?? 'local', jobId: 'j1', jobDir: dir, spec: full, offset: o.offset ?? 0, ...(table ? { table } : {}) });
  writeFileSync(join(dir, 'job.sh'), text, { mode: 0o700 });
  return full;
}

function runWrapper(env: Record<string, string> = {}, signalAfterMs?: number): Promise<number | null> {
  return new Promise((resolve) => {
    const p = spawn('/bin/sh', [join(dir, 'job.sh')], { env: { PATH: '/usr/bin:/bin', ...env }, detached: true, stdio: 'ignore' });
    if (signalAfterMs) setTimeout(() => process.kill(-p.pid!, 'SIGTERM'), signalAfterMs);
    p.on('exit', (code) => resolve(code));
  });
}

const exitRecord = (key: string) =>
  JSON.parse(readFileSync(join(dir, 'tasks', `${key}.exit`), 'utf8')) as { exitCode: number; signal: string; endedAt: number };

describe('job wrapper', () => {
  it('single-quotes anything: sh gives back exactly the bytes, running nothing', () => {
    for (const v of ["it's", '$(touch PWNED)', '`touch PWNED`', 'a\\b', 'line\nbreak', "'", "''", '', '"$HOME"', '* ?']) {
      expect(execFileSync('/bin/sh', ['-c', `printf %s ${sq(v)}`], { encoding: 'utf8', cwd: '/tmp' })).toBe(v);
    }
    expect(sq("a'b")).toBe("'a'\\''b'");
    expect(existsSync('/tmp/PWNED')).toBe(false);
  });

  it('records start and exit, exports env, changes directory, keeps hostile strings inert', async () => {
    const evil = `$(touch PWNED) \`touch PWNED\` '"\\ ; touch PWNED\nnext`;
    const work = "work dir $(x) 'q'";
    const full = setup({ command: ['sh', '-c', 'printf "%s|%s|" "$EVIL" "$1"; pwd; echo err >&2; exit 3', 'sh', evil], env: { EVIL: evil } });
    mkdirSync(join(dir, work));
    full.workdir = join(dir, work);
    writeFileSync(join(dir, 'job.sh'), wrapperScript({ scheduler: 'local', jobId: 'j1', jobDir: dir, spec: full, offset: 0 }), { mode: 0o700 });
    expect(await runWrapper()).toBe(3);
    expect(readFileSync(join(dir, 'stdout'), 'utf8')).toBe(`${evil}|${evil}|${join(dir, work)}\n`);
    expect(readFileSync(join(dir, 'stderr'), 'utf8')).toBe('err\n');
    expect(existsSync(join(dir, work, 'PWNED')) || existsSync(join(dir, 'PWNED'))).toBe(false);
    const start = JSON.parse(readFileSync(join(dir, 'tasks', 'job.start'), 'utf8')) as { startedAt: number };
    const exit = exitRecord('job');
    expect(exit.exitCode).toBe(3);
    expect(exit.signal).toBe('');
    expect(exit.endedAt).toBeGreaterThanOrEqual(start.startedAt);
    expect(Math.abs(start.startedAt - Date.now())).toBeLessThan(60_000);
  });

  it('runs a script with its own interpreter line', async () => {
    setup({ script: '#!/bin/sh\necho "from script $0" | sed s,/.*/,,\n' });
    writeFileSync(join(dir, 'script'), '#!/bin/sh\necho "from script"\nexit 0\n', { mode: 0o700 });
    expect(await runWrapper()).toBe(0);
    expect(readFileSync(join(dir, 'stdout'), 'utf8')).toBe('from script\n');
    expect(exitRecord('job').exitCode).toBe(0);
  });

  it('maps the scheduler task index to the clustrix index: offset, and table', async () => {
    setup(
      { command: ['sh', '-c', 'echo $CLUSTRIX_TASK_ID'], array: { indices: '1000-1999', count: 1000, maxConcurrent: 0 }, stdout: `/tmp/x/{task}.out` },
      { offset: 1000, scheduler: 'slurm' },
    );
    const full = setup(
      { command: ['sh', '-c', 'echo $CLUSTRIX_TASK_ID'], array: { indices: '1,5,6', count: 3, maxConcurrent: 0 } },
      { table: [1, 5, 6], scheduler: 'sge' },
    );
    full.stdout = join(dir, 'o.{task}');
    writeFileSync(
      join(dir, 'job.sh'),
      wrapperScript({ scheduler: 'sge', jobId: 'j1', jobDir: dir, spec: full, offset: 0, table: { file: join(dir, 'indices-0'), base: 1 } }),
      { mode: 0o700 },
    );
    expect(await runWrapper({ SGE_TASK_ID: '2' })).toBe(0);
    expect(readFileSync(join(dir, 'o.5'), 'utf8')).toBe('5\n');
    expect(exitRecord('5').exitCode).toBe(0);
    // Offset mapping, Slurm's variable.
    full.stdout = join(dir, 'p.{task}');
    writeFileSync(join(dir, 'job.sh'), wrapperScript({ scheduler: 'slurm', jobId: 'j1', jobDir: dir, spec: full, offset: 1001 }), { mode: 0o700 });
    expect(await runWrapper({ SLURM_ARRAY_TASK_ID: '7' })).toBe(0);
    expect(readFileSync(join(dir, 'p.1008'), 'utf8')).toBe('1008\n');
    // No index in the environment: a clear failure, not task "".
    expect(await runWrapper({})).toBe(1);
  });

  it('records the signal when the scheduler terminates the command', async () => {
    setup({ command: ['sleep', '30'] });
    expect(await runWrapper({}, 300)).toBe(143);
    expect(exitRecord('job')).toMatchObject({ exitCode: 143, signal: 'SIGTERM' });
  });

  it('fails clearly when the workdir does not exist', async () => {
    setup({ command: ['true'], workdir: '/nonexistent/dir' });
    expect(await runWrapper()).toBe(1);
    expect(readFileSync(join(dir, 'stderr'), 'utf8')).toContain('cannot cd to /nonexistent/dir');
    expect(exitRecord('job')).toMatchObject({ exitCode: 1 });
  });
});
