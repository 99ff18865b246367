/** `clustrix run` / `clustrix map`: argument parsing, output, and exit codes, through the real CLI on the local scheduler. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parseArgWord, parseFunctionRef, toJson } from '../../client/cli/functions-commands.js';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli.mjs');

describe('function command helpers', () => {
  it('splits module#export and reads argument words as JSON, else as strings', () => {
    expect(parseFunctionRef('./a/b.ts#fit')).toEqual({ module: './a/b.ts', exportName: 'fit' });
    expect(parseFunctionRef('mod.ts')).toEqual({ module: 'mod.ts', exportName: 'default' });
    expect(() => parseFunctionRef('#fit')).toThrow(/names no module/);
    expect(() => parseFunctionRef('m.ts#not-a-name')).toThrow(/not an export name/);
    expect([parseArgWord('3'), parseArgWord('{"a":[1]}'), parseArgWord('"7"'), parseArgWord('hello world'), parseArgWord('true')]).toEqual([
      3,
      { a: [1] },
      '7',
      'hello world',
      true,
    ]);
  });

  it('prints values JSON cannot hold', () => {
    expect(toJson({ b: 10n, m: new Map([[1, 'x']]), s: new Set([2]), u: new Uint8Array([104, 105]), n: undefined })).toBe(
      '{"b":"10","m":[[1,"x"]],"s":[2],"u":"aGk="}',
    );
  });
});

describe('clustrix run / map (local scheduler)', () => {
  const base = mkdtempSync('/tmp/clx-fcli-');
  const mod = join(base, 'calc.ts');
  writeFileSync(
    mod,
    `import { progress } from 'clustrix/job';
export function add(a: number, b: number) { progress({ adding: [a, b] }); return a + b; }
export function inverse(x: number) { if (x === 0) { const e = new RangeError('no inverse of 0'); throw e; } return 1 / x; }
`,
  );
  const cli = (...args: string[]) =>
    run(process.execPath, [CLI, '--root', join(base, 'root'), '--run-dir', join(base, 'run'), ...args], { cwd: base }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
  afterAll(async () => {
    await cli('agent', 'stop', 'local');
    rmSync(base, { recursive: true, force: true });
  });

  it('runs a function: result on stdout, progress and the bundle report on stderr, exit 0', async () => {
    const r = await cli('--json', 'run', 'local', '--scheduler', 'local', './calc.ts#add', '2', '40');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('42\n');
    expect(r.stderr).toContain('progress: {"adding":[2,40]}');
    expect(r.stderr).toMatch(/bundle [0-9a-f]{12} \(\d+ KiB\) uploaded; job \w+ \(local /);
  }, 60_000);

  it('exits 1 with the remote stack when the function throws, 2 on bad usage', async () => {
    const r = await cli('run', 'local', '--scheduler', 'local', './calc.ts#inverse', '0');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/RangeError: no inverse of 0\n\s+at inverse \(.*calc\.ts:\d+:\d+\)/);
    expect((await cli('run', 'local', './calc.ts#inverse', '--args-file', 'nope.json')).code).toBe(2);
    expect((await cli('run', 'local', './missing.ts#f')).code).toBe(2);
  }, 60_000);

  it('maps items in order, reports each failed item, and exits 1 when one failed', async () => {
    writeFileSync(join(base, 'items.json'), JSON.stringify([1, 0, 4]));
    const r = await cli('map', 'local', '--scheduler', 'local', '--quiet', '--items', 'items.json', './calc.ts#inverse');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('[0] 1\n[1] ERROR RangeError: no inverse of 0\n[2] 0.25\n');
    expect(r.stderr).toBe('');
  }, 60_000);
});
