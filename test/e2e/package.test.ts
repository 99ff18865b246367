/**
 * clustrix as a consumer gets it: `import … from 'clustrix'` and
 * `'clustrix/job'` resolve through package.json "exports" to the built files,
 * their type declarations typecheck a strict consumer, and a function call
 * made through the package works end to end on the local default.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repo = join(import.meta.dirname, '..', '..');

describe('the clustrix package, from a consumer project', () => {
  const dir = mkdtempSync('/tmp/clx-pkg-');
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(repo, join(dir, 'node_modules', 'clustrix'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
  writeFileSync(
    join(dir, 'work.ts'),
    `import { progress, taskId } from 'clustrix/job';
export function scale(xs: number[], k: number): number[] {
  progress({ n: xs.length, task: taskId() ?? null });
  return xs.map((x) => x * k);
}
`,
  );
  writeFileSync(
    join(dir, 'main.ts'),
    `import { connect, FunctionJobError, RemoteError, type Cluster } from 'clustrix';
import type { scale } from './work.js';
const c: Cluster = await connect('local', { root: process.argv[2]!, runDir: process.argv[3]! });
const call = c.run<typeof scale>(new URL('./work.ts', import.meta.url), 'scale', [[1, 2, 3], 10]);
const out: number[] = await call;
console.log(JSON.stringify({ out, errors: [typeof FunctionJobError, typeof RemoteError] }));
await c.stopAgent();
await c.close();
`,
  );
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: ['node'],
        typeRoots: [join(repo, 'node_modules', '@types')],
      },
      include: ['*.ts'],
    }),
  );
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('typechecks a strict consumer against the published declarations', async () => {
    const r = await run(process.execPath, [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json')], { cwd: dir }).then(
      () => ({ code: 0, out: '' }),
      (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
    );
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  }, 120_000);

  it('runs a function through the package imports', async () => {
    const state = mkdtempSync('/tmp/clx-pkgs-');
    try {
      const tsx = join(repo, 'node_modules', 'tsx', 'dist', 'cli.mjs');
      const { stdout } = await run(process.execPath, [tsx, 'main.ts', join(state, 'root'), join(state, 'run')], { cwd: dir });
      expect(JSON.parse(stdout)).toEqual({ out: [10, 20, 30], errors: ['function', 'function'] });
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  }, 120_000);
});
