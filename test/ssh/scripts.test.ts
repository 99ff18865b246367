/**
 * The remote scripts, run for real with local shells (no SSH): they must be
 * one line, parse under /bin/sh with hostile values, and do their job —
 * probe, verify+install, warm/cold start, status/stop, bridge marker.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentBundle } from '../../client/agent-bundle.js';
import { lastJsonLine } from '../../client/ssh/agent-control.js';
import { parseServed } from '../../client/ssh/agent-start.js';
import { chooseNode, parseProbe } from '../../client/ssh/node-runtime.js';
import { loginShellCommand } from '../../client/ssh/quote.js';
import { agentCommandScript, bridgeScript, connectScript, installScript, MARK, probeScript } from '../../client/ssh/scripts.js';
import { parseStartOutput } from '../../client/start-line.js';

const HOSTILE = ["/tmp/it's here", '/tmp/$(touch /tmp/clx-pwned)', '/tmp/a b`id`', '~/x!y', 'rel/"q"', '/tmp/;rm -rf ~'];
const bundlePresent = existsSync(join(import.meta.dirname, '../../dist/agent.mjs'));

/** Run a script like sshd would: login shell (bash) -c "exec /bin/sh -c '…'". */
function runRemote(script: string, env: Record<string, string>): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('/bin/bash', ['-c', loginShellCommand(script)], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('remote scripts are one line and parse with hostile values', () => {
  const build = 'abcdef0123456789';
  const cases: [string, string][] = [];
  for (const v of HOSTILE) {
    const place = { root: v, build, runDir: v, nodePath: v, idleExitMs: 5 };
    cases.push(['connect', connectScript(place, { allowWarm: true })], ['status', agentCommandScript(place, 'status')], ['bridge', bridgeScript(place)]);
    cases.push(['probe', probeScript(place, ['nodejs/20.1', 'node'])], ['install', installScript({ ...place, tmp: v, node: v })]);
  }
  it.each(cases)('%s', (_name, script) => {
    expect(() => loginShellCommand(script)).not.toThrow();
    const r = spawnSync('/bin/sh', ['-n', '-c', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('refuses build hashes and module names that are not plain', () => {
    expect(() => connectScript({ build: 'abc;rm' }, { allowWarm: true })).toThrow(/build/);
    expect(() => probeScript({ build }, ['nodejs; rm -rf ~'])).toThrow(/module/);
  });

  it('never lets a quoted value run a command', () => {
    rmSync('/tmp/clx-pwned', { force: true });
    const home = mkdtempSync(join(tmpdir(), 'clx-home-'));
    for (const v of HOSTILE) runRemote(connectScript({ root: v, build, runDir: v }, { allowWarm: true }), { HOME: home, SHELL: '/bin/sh' });
    expect(existsSync('/tmp/clx-pwned')).toBe(false);
    rmSync(home, { recursive: true, force: true });
  });
});

describe.skipIf(!bundlePresent)('install and start through the scripts (local shells, no SSH)', () => {
  let home: string;
  let runDir: string;
  const bundle = bundlePresent ? agentBundle() : null!;
  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'clx-home-'));
    runDir = mkdtempSync('/tmp/cxs-');
    rmSync(runDir, { recursive: true });
  });
  afterAll(() => {
    runRemote(agentCommandScript({ build: bundle.build, runDir }, 'stop'), { HOME: home, SHELL: '/bin/sh' });
    rmSync(home, { recursive: true, force: true });
    rmSync(runDir, { recursive: true, force: true });
  });
  const env = () => ({ HOME: home, SHELL: '/bin/sh' });

  it('says NEED-INSTALL in an empty account', () => {
    const r = runRemote(connectScript({ build: bundle.build, runDir }, { allowWarm: true }), env());
    expect(r.stdout.trim()).toBe(MARK.needInstall);
  });

  it('probes the host and finds node, creating the build dir 0700', () => {
    const r = runRemote(probeScript({ build: bundle.build }, ['nodejs']), env());
    const p = parseProbe(r.stdout)!;
    expect(p.root).toBe(`${home}/.clustrix`);
    expect(p.mkdirOk).toBe(true);
    expect(statSync(join(home, '.clustrix')).mode & 0o777).toBe(0o700);
    expect(chooseNode(p)?.path).toMatch(/^\//);
  });

  it('refuses a corrupted upload and installs a good one atomically', () => {
    const dir = join(home, '.clustrix', 'agent', bundle.build);
    mkdirSync(dir, { recursive: true });
    execFileSync('/bin/sh', ['-c', `head -c 1000 "$1" > "$2"`, 'sh', bundle.path, join(dir, '.bad.mjs')]);
    const bad = runRemote(installScript({ build: bundle.build, tmp: '.bad.mjs', node: process.execPath }), env());
    expect(bad.stdout).toContain(MARK.badHash);
    expect(existsSync(join(dir, 'agent.mjs'))).toBe(false);
    expect(existsSync(join(dir, '.bad.mjs'))).toBe(false);

    copyFileSync(bundle.path, join(dir, '.good.mjs'));
    const good = runRemote(installScript({ build: bundle.build, tmp: '.good.mjs', node: process.execPath }), env());
    expect(good.stdout).toContain(MARK.installed);
    expect(readFileSync(join(dir, 'node-path'), 'utf8').trim()).toBe(process.execPath);
  });

  it('starts cold (serve launched directly, its readiness line), then answers warm from pure shell', () => {
    const cold = runRemote(connectScript({ build: bundle.build, runDir, idleExitMs: 60_000 }, { allowWarm: true }), env());
    const info = parseServed(cold.stdout);
    if (info === null || info === 'failed') throw new Error(`no readiness line: ${cold.stdout} ${cold.stderr}`);
    expect(info.build).toBe(bundle.build);
    expect(info.started).toBe(true);
    const warm = runRemote(connectScript({ build: bundle.build, runDir }, { allowWarm: true }), env());
    const lines = warm.stdout.slice(warm.stdout.indexOf(MARK.warm)).split('\n');
    expect(lines.slice(0, 4)).toEqual([MARK.warm, String(info.pid), info.token, runDir]);
    const st = lastJsonLine(runRemote(agentCommandScript({ build: bundle.build, runDir }, 'status'), env()).stdout);
    expect(st).toMatchObject({ running: true, pid: info.pid });
    // Without the warm check the lock is live, so the script leaves it to `start`, which reuses the agent.
    const again = runRemote(connectScript({ build: bundle.build, runDir }, { allowWarm: false }), env());
    expect(again.stdout).not.toContain(MARK.serve);
    expect(parseStartOutput(again.stdout)).toMatchObject({ pid: info.pid, started: false });
  });

  it('falls back to `start` when a directly launched serve does not report ready', () => {
    expect(parseServed(`noise\n${MARK.serve}\n{"ok":false,"locked":123,"error":"held"}\n`)).toBe('failed');
    expect(parseServed(`noise\n${MARK.serve}\n`)).toBe('failed');
    expect(parseServed(`@@CLUSTRIX-AGENT@@ {}\n`)).toBeNull();
    expect(connectScript({ build: bundle.build }, { allowWarm: true, direct: false })).not.toContain('serve');
  });

  it('prints the bridge marker before relaying', () => {
    const r = spawnSync('/bin/bash', ['-c', loginShellCommand(bridgeScript({ build: bundle.build, runDir }))], {
      input: '',
      encoding: 'utf8',
      env: { ...env(), PATH: process.env.PATH! },
    });
    expect(r.stdout.startsWith(MARK.bridge + '\n')).toBe(true);
  });
});
