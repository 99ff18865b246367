/** The `clustrix` command line against the local agent: output, exit codes, pipes. */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../../protocol/index.js';
import { CLI, runCli, type CliResult } from '../support/cli.js';
import { localEnv, type LocalEnv } from '../support/local-agent.js';

const execP = promisify(execFile);
let env: LocalEnv;
let dir: string;

const cli = (args: string[], input?: string): Promise<CliResult> => runCli(env, args, input);

beforeAll(() => {
  env = localEnv();
  dir = mkdtempSync('/tmp/clx-cli-');
  mkdirSync(join(dir, 'sub', 'deep'), { recursive: true });
  writeFileSync(join(dir, 'a.log'), 'alpha\n');
  writeFileSync(join(dir, 'sub', 'b.log'), 'beta\n'.repeat(1000));
  writeFileSync(join(dir, 'sub', 'deep', 'c.txt'), 'gamma\n');
  writeFileSync(join(dir, 'with space.log'), '');
});
afterAll(async () => {
  await env.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('clustrix CLI (local)', () => {
  it('find prints the same paths as GNU find', async () => {
    const ours = await cli(['find', dir, '--name', '*.log']);
    const gnu = await execP('find', [dir, '-name', '*.log']);
    expect(ours.code).toBe(0);
    expect(ours.stdout.split('\n').filter(Boolean).sort()).toEqual(gnu.stdout.split('\n').filter(Boolean).sort());
  });

  it('du -b and -B1 print what GNU du prints', async () => {
    for (const flags of [['-b'], ['-B1']]) {
      const ours = await cli(['du', ...flags, dir]);
      const gnu = await execP('du', ['-s', ...flags, dir]);
      expect(ours.stdout).toBe(gnu.stdout);
    }
  });

  it('exits 3 with a message naming the path for a missing file', async () => {
    const r = await cli(['stat', join(dir, 'nope')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(join(dir, 'nope'));
  });

  it('--version names the package version, the protocol and the agent build it installs', async () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    const build = createHash('sha256')
      .update(readFileSync(join(import.meta.dirname, '..', '..', 'dist', 'agent.mjs')))
      .digest('hex')
      .slice(0, 16);
    const r = await cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`clustrix ${pkg.version} (protocol ${PROTOCOL_VERSION}, agent build ${build}, node ${process.version})\n`);
  });

  it('exits 2 on bad usage', async () => {
    expect((await cli(['find', dir, '--bogus'])).code).toBe(2);
    expect((await cli(['find', dir, '--min-size', 'lots'])).code).toBe(2);
  });

  it('exits 0 when a pipe reader goes away early (like `| head -1`)', async () => {
    const p = spawn(process.execPath, [CLI, '--root', env.root, '--run-dir', env.runDir, 'find', '/usr'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Read the first chunk, then close our end of the pipe while find is still printing.
    await new Promise<void>((r) => p.stdout.once('data', () => r()));
    p.stdout.destroy();
    const code = await new Promise<number | null>((r) => p.on('close', (c) => r(c)));
    expect(stderr).not.toMatch(/EPIPE|Error/);
    expect(code).toBe(0);
  });

  it('writes stdin atomically and cats it back', async () => {
    const target = join(dir, 'out', 'note.txt');
    expect((await cli(['write', '-p', target], 'hello from stdin\n')).code).toBe(0);
    const back = await cli(['cat', target]);
    expect(back.stdout).toBe('hello from stdin\n');
  });

  it('prints JSON that parses, with exact sizes', async () => {
    const r = await cli(['--json', 'ls', join(dir, 'sub')]);
    const entries = JSON.parse(r.stdout) as { name: string; size: number; type: string }[];
    expect(entries.find((e) => e.name === 'b.log')).toMatchObject({ type: 'file', size: 5000 });
  });

  it('exists/isdir answer by exit status', async () => {
    expect((await cli(['isdir', join(dir, 'sub')])).code).toBe(0);
    expect((await cli(['isdir', join(dir, 'a.log')])).code).toBe(1);
    expect((await cli(['exists', join(dir, 'nope')])).code).toBe(1);
  });

  it('status reports the running agent and agent stop stops it', async () => {
    await cli(['ls', dir]);
    const st = await cli(['--json', 'status']);
    expect(st.code).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({ running: true });
    expect((await cli(['agent', 'stop'])).code).toBe(0);
    expect((await cli(['status'])).code).toBe(3);
  });
});
