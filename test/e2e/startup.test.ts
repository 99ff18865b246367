/**
 * What a start loads: `clustrix --help`, a local command and the library's
 * import leave ssh2 and esbuild unloaded (each is tens of ms of start-up);
 * an SSH connect or a function bundle loads them when it needs them.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const DIST = join(import.meta.dirname, '..', '..', 'dist');
let dir: string;
let hook: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'clx-startup-'));
  hook = join(dir, 'loaded.cjs');
  // Preloaded: at exit, write the packages whose CommonJS modules were loaded (ssh2 and esbuild are CommonJS).
  writeFileSync(
    hook,
    `process.on('exit', () => {
      const pk = new Set();
      for (const f of Object.keys(require('node:module')._cache)) { const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(f); if (m) pk.add(m[1]); }
      require('node:fs').writeFileSync(process.env.CLX_LOADED_OUT, [...pk].sort().join('\\n'));
    });`,
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function loaded(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const out = join(dir, `out-${Math.random().toString(36).slice(2)}`);
  await run(process.execPath, ['--require', hook, ...args], { env: { ...process.env, ...env, CLX_LOADED_OUT: out } }).catch((e: { code?: number }) => {
    // Exit codes are not the point here; a crash before exit would leave no list.
    if (typeof e.code !== 'number') throw e;
  });
  return readFileSync(out, 'utf8').split('\n').filter(Boolean);
}

describe('start-up loads only what it uses', () => {
  it('clustrix --help loads neither ssh2 nor esbuild', async () => {
    const pk = await loaded([join(DIST, 'cli.mjs'), '--help']);
    expect(pk).not.toContain('ssh2');
    expect(pk).not.toContain('esbuild');
  });

  it('importing the library loads neither; an SSH connect attempt loads ssh2', async () => {
    const lib = join(DIST, 'client.mjs');
    expect(await loaded(['--input-type=module', '-e', `await import(${JSON.stringify(lib)})`])).not.toContain('ssh2');
    // A connect to a closed loopback port fails after ssh2 is loaded (the handshake needs it).
    const script = `const m = await import(${JSON.stringify(lib)}); await m.connect('nobody@127.0.0.1:1', { configFiles: [] }).catch(() => {});`;
    const pk = await loaded(['--input-type=module', '-e', script]);
    expect(pk).toContain('ssh2');
    expect(pk).not.toContain('esbuild');
  });
});
