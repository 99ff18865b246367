/**
 * envs.ensure through real local agents, with no network: every package is a
 * tarball or wheel this test makes itself.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { normalizeSpec, shQuote, specHash } from '../../agent/envs/spec.js';
import { runLocalAgent } from '../../client/local.js';
import { RemoteError } from '../../client/errors.js';
import type { EnvLogChunk, EnvSpec } from '../../protocol/index.js';
import { localEnv, type LocalEnv } from '../support/local-agent.js';

let env: LocalEnv;
const extraRunDirs: string[] = [];
afterEach(async () => {
  for (const d of extraRunDirs.splice(0)) {
    await runLocalAgent({ ...env.opts, runDir: d }, 'stop');
    rmSync(d, { recursive: true, force: true });
  }
  await env?.cleanup();
});

let work: string;
let tarball: string;
let wheelDir: string;
let counter: string;

beforeAll(() => {
  work = mkdtempSync('/tmp/clx-envs-');
  counter = join(work, 'installs');
  // A tiny npm package whose postinstall counts installs (one line per build).
  const pkg = join(work, 'pkg');
  mkdirSync(pkg);
  writeFileSync(
    join(pkg, 'package.json'),
    JSON.stringify({
      name: 'clx-tiny',
      version: '1.0.0',
      main: 'index.js',
      scripts: { postinstall: "node -e \"require('fs').appendFileSync(process.env.CLX_COUNTER, 'x\\n')\"" },
    }),
  );
  writeFileSync(join(pkg, 'index.js'), 'module.exports = 42;\n');
  const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: pkg, encoding: 'utf8' }).trim().split('\n').pop()!;
  tarball = join(work, name);
  // A tiny pure-Python wheel, zipped by hand (no setuptools/wheel needed, no index).
  wheelDir = join(work, 'wheels');
  mkdirSync(wheelDir);
  execFileSync('python3', [
    '-c',
    `import zipfile, sys
w = zipfile.ZipFile(sys.argv[1], 'w')
w.writestr('clx_tiny/__init__.py', 'VALUE = 42\\n')
w.writestr('clx_tiny-1.0.0.dist-info/METADATA', 'Metadata-Version: 2.1\\nName: clx-tiny\\nVersion: 1.0.0\\n')
w.writestr('clx_tiny-1.0.0.dist-info/WHEEL', 'Wheel-Version: 1.0\\nGenerator: clustrix-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n')
w.writestr('clx_tiny-1.0.0.dist-info/RECORD', '')
w.close()`,
    join(wheelDir, 'clx_tiny-1.0.0-py3-none-any.whl'),
  ]);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const nodeSpec = (tag: string): EnvSpec => ({ node: { tarballs: [tarball], offline: true }, env: { CLX_COUNTER: counter, TAG: tag } });

function inEnv(activate: string, cmd: string): string {
  return execFileSync('/bin/sh', ['-c', `. ${shQuote(activate)} && ${cmd}`], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
  }).trim();
}

function installs(): number {
  return existsSync(counter) ? readFileSync(counter, 'utf8').split('\n').filter(Boolean).length : 0;
}

async function leasePathFor(root: string, spec: EnvSpec): Promise<string> {
  return join(root, 'envs', `${await specHash(normalizeSpec(spec, userInfo().homedir))}.lease`);
}

describe('envs.ensure', () => {
  it('builds Node deps from a local tarball once, streams the log, then reuses the env', async () => {
    env = localEnv();
    rmSync(counter, { force: true });
    const c = await env.connect();
    const logs: EnvLogChunk[] = [];
    const r = await c.envs.ensure(nodeSpec('node'), { onLog: (l) => logs.push(l) });
    expect(r).toMatchObject({ built: true, path: join(env.root, 'envs', r.hash), activate: join(env.root, 'envs', r.hash, 'activate') });
    expect(logs.flatMap((l) => l.lines).some((l) => l.startsWith('$ npm install --offline'))).toBe(true);
    expect(JSON.parse(readFileSync(join(r.path, 'ready.json'), 'utf8'))).toMatchObject({ hash: r.hash });
    expect(inEnv(r.activate, `node -e "console.log(require('clx-tiny'), process.env.TAG)"`)).toBe('42 node');
    const again = await c.envs.ensure(nodeSpec('node'));
    expect(again).toMatchObject({ built: false, hash: r.hash, path: r.path });
    expect(installs()).toBe(1);
    expect(readdirSync(join(env.root, 'envs')).sort()).toEqual([r.hash]); // no lease, no build dir left
    await c.close();
  });

  it('installs a Python requirement from a local wheel directory with no index', async () => {
    env = localEnv();
    const c = await env.connect();
    const r = await c.envs.ensure({ python: { interpreter: 'python3', requirements: ['clx-tiny'], wheelDir } });
    expect(r.built).toBe(true);
    expect(inEnv(r.activate, 'python3 -c "import clx_tiny; print(clx_tiny.VALUE)"')).toBe('42');
    await c.close();
  });

  it('builds once when two agents (two login nodes) ensure the same spec at once', async () => {
    env = localEnv();
    rmSync(counter, { force: true });
    const runDir2 = join(mkdtempSync('/tmp/clx-'), 'run');
    extraRunDirs.push(join(runDir2, '..'));
    const a = await env.connect();
    const b = await env.connect({ runDir: runDir2 });
    expect((await a.info()).pid).not.toBe((await b.info()).pid);
    const logsB: string[] = [];
    const logsA: string[] = [];
    const spec = nodeSpec('race');
    const [ra, rb] = await Promise.all([
      a.envs.ensure(spec, { onLog: (l) => logsA.push(...l.lines) }),
      b.envs.ensure(spec, { onLog: (l) => logsB.push(...l.lines) }),
    ]);
    expect([ra.built, rb.built].filter(Boolean)).toHaveLength(1);
    expect(ra.path).toBe(rb.path);
    expect(installs()).toBe(1);
    const waiterLog = ra.built ? logsB : logsA;
    expect(waiterLog.every((l) => !l.startsWith('$ npm'))).toBe(true);
    await Promise.all([a.close(), b.close()]);
  });

  it('fails a build with the command, exit code and output tail, leaving no env behind', async () => {
    env = localEnv();
    const c = await env.connect();
    const empty = join(work, 'no-wheels');
    mkdirSync(empty, { recursive: true });
    const logs: string[] = [];
    const err = await c.envs
      .ensure({ python: { requirements: ['clx-does-not-exist==9'], wheelDir: empty } }, { onLog: (l) => logs.push(...l.lines) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    const e = err as RemoteError;
    expect(e.code).toBe('SCHEDULER');
    expect(e.message).toMatch(/pip install exited with 1/);
    expect(e.details).toMatchObject({ step: 'pip install', exitCode: 1 });
    expect((e.details!.argv as string[]).slice(0, 4)).toEqual(['python3', '-m', 'pip', 'install']);
    expect((e.details!.outputTail as string[]).join('\n')).toMatch(/clx-does-not-exist/);
    expect(logs.join('\n')).toMatch(/No matching distribution|Could not find a version/);
    expect(readdirSync(join(env.root, 'envs'))).toEqual([]); // no env, no build dir, no lease
    await c.close();
  });

  it('steals an expired lease left by a dead builder and cleans its build dir', async () => {
    env = localEnv();
    const spec = nodeSpec('stolen');
    const lease = await leasePathFor(env.root, spec);
    const hash = lease.slice(lease.lastIndexOf('/') + 1, -'.lease'.length);
    mkdirSync(join(env.root, 'envs'), { recursive: true });
    writeFileSync(lease, JSON.stringify({ host: 'login9', pid: 4194305, token: 'dead', expiresAt: Date.now() - 1000 }));
    const leftover = join(env.root, 'envs', `.build-${hash.slice(0, 16)}-deadbeef0000`);
    mkdirSync(leftover);
    const c = await env.connect();
    const r = await c.envs.ensure(spec);
    expect(r.built).toBe(true);
    expect(existsSync(lease)).toBe(false);
    expect(existsSync(leftover)).toBe(false);
    await c.close();
  });

  it('waits for a live lease, then steals it when it expires without a ready env', async () => {
    env = localEnv();
    const spec = nodeSpec('waited');
    const lease = await leasePathFor(env.root, spec);
    mkdirSync(join(env.root, 'envs'), { recursive: true });
    const expiresAt = Date.now() + 1500;
    writeFileSync(lease, JSON.stringify({ host: 'login9', pid: 4194305, token: 'slow', expiresAt }));
    const c = await env.connect();
    const logs: string[] = [];
    const r = await c.envs.ensure(spec, { onLog: (l) => logs.push(...l.lines), waitTimeoutMs: 20_000 });
    expect(r.built).toBe(true);
    expect(logs.some((l) => l.startsWith('waiting: login9 pid 4194305'))).toBe(true);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
    await c.close();
  });

  it('gives up waiting with TIMEOUT after waitTimeoutMs', async () => {
    env = localEnv();
    const spec = nodeSpec('timeout');
    const lease = await leasePathFor(env.root, spec);
    mkdirSync(join(env.root, 'envs'), { recursive: true });
    writeFileSync(lease, JSON.stringify({ host: 'login9', pid: 4194305, token: 'busy', expiresAt: Date.now() + 60_000 }));
    const c = await env.connect();
    const err = (await c.envs.ensure(spec, { waitTimeoutMs: 300 }).catch((e: unknown) => e)) as RemoteError;
    expect(err.code).toBe('TIMEOUT');
    expect(existsSync(lease)).toBe(true); // someone else's live lease is left alone
    await c.close();
  });

  it('rejects a spec whose values could read as options', async () => {
    env = localEnv();
    const c = await env.connect();
    const err = (await c.envs.ensure({ python: { requirements: ['--index-url=http://evil'] } }).catch((e: unknown) => e)) as RemoteError;
    expect(err.code).toBe('INVALID_PARAMS');
    await c.close();
  });
});
