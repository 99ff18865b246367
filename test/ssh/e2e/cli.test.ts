/**
 * The CLI against an SSH host of the testbed (ssh_config alias via
 * $CLUSTRIX_SSH_CONFIG): install, the fs commands with host:path, status,
 * doctor, agent stop. Runs the built dist/cli.mjs like a user would.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { bed, describeSsh, sandbox } from './bed.js';

const CLI = join(import.meta.dirname, '..', '..', '..', 'dist', 'cli.mjs');

describeSsh('ssh e2e: CLI', () => {
  const box = sandbox('cli');
  afterAll(() => box.cleanup());
  const host = bed.aliases.main;
  const home = bed.homes[bed.users.main]!;

  function cli(...args: string[]) {
    const r = spawnSync(process.execPath, [CLI, '--root', box.root, '--run-dir', box.runDir, ...args], {
      encoding: 'utf8',
      env: { ...process.env, CLUSTRIX_SSH_CONFIG: bed.sshConfig },
      timeout: 60_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it('install reports what it chose, then the fs commands work with host:path', () => {
    const inst = cli('--json', 'install', host);
    expect(inst.stderr).toBe('');
    const j = JSON.parse(inst.stdout) as { installed: boolean; node: { path: string; why: string }; agent: { how: string } };
    expect(j).toMatchObject({ installed: true, agent: { how: 'installed' } });
    expect(j.node.path).toMatch(/^\//);

    const ls = cli('ls', '-a', `${host}:${home}`);
    expect(ls.code).toBe(0);
    expect(ls.stdout.split('\n')).toContain('.bashrc');
    expect(cli('stat', `${host}:${home}/.bashrc`).stdout).toMatch(/regular file/);
    expect(cli('find', `${host}:${home}`, '--name', '.bash*', '--maxdepth', '1').stdout).toContain(`${home}/.bashrc`);
    expect(cli('du', '-b', `${host}:${home}/.bashrc`).stdout).toMatch(/^\d+\t/);
    expect(cli('glob', `${host}:.bash*`, '--dot').stdout).toContain('.bashrc');
    expect(cli('cat', `${host}:${home}/.bashrc`).stdout).toContain(bed.root ? bed.loginNoise : '');
    expect(cli('stat', `${host}:/no/such/file`).code).toBe(3);
  });

  it('several operands: a pattern expanded on the host, a file named by ls, paths qualified when they span hosts', () => {
    const ls = cli('ls', '-a', `${host}:${home}/.bash*`, `${host}:${home}`);
    expect(ls.code).toBe(0);
    const lines = ls.stdout.split('\n');
    expect(lines).toContain(`${home}/.bashrc`); // the pattern's match, named
    expect(lines.slice(lines.indexOf(`${home}:`))).toContain('.bashrc'); // the directory, listed under its header
    const st = cli('stat', `${host}:${home}/.bashrc`, `${bed.aliases.noforward}:/etc/hostname`, `${host}:/no/such/file`);
    expect(st.code).toBe(3);
    expect([...st.stdout.matchAll(/ {2}File: (.*)/g)].map((m) => m[1])).toEqual([`${host}:${home}/.bashrc`, `${bed.aliases.noforward}:/etc/hostname`]);
    // The failure names its host: the same path may exist on the other one.
    expect(st.stderr).toMatch(new RegExp(`^clustrix: ${host}: .*/no/such/file: no such file or directory$`, 'm'));
    // find walks its operands in turn, across hosts, each printed with its host.
    const f = cli('find', `${host}:${home}`, `${bed.aliases.noforward}:${home}`, '--name', '.bashrc', '--maxdepth', '1');
    expect(f.code).toBe(0);
    expect(f.stdout).toBe(`${host}:${home}/.bashrc\n${bed.aliases.noforward}:${home}/.bashrc\n`);
  });

  it('status shows the running agent with its tunnel; doctor passes every step', () => {
    const st = cli('status', host);
    expect(st.code).toBe(0);
    expect(st.stdout).toMatch(/agent running[\s\S]*tunnel stream-local[\s\S]*round trip/);
    const doc = cli('--json', 'doctor', host);
    const d = JSON.parse(doc.stdout) as { ok: boolean; steps: { step: string; ok: boolean }[] };
    expect(d.steps.map((s) => s.step)).toEqual([
      'config',
      'dns',
      'tcp',
      'host key',
      'auth',
      'node runtime',
      'agent',
      'agent start',
      'forwarding',
      'socket',
      'round trip',
      'persistent connection',
    ]);
    expect(d.ok).toBe(true);
    expect(doc.code).toBe(0);
  });

  it('doctor explains a refused stream-local forward and still reaches the agent', () => {
    const doc = cli('doctor', bed.aliases.noforward);
    expect(doc.stdout).toMatch(/forwarding: stream-local refused/);
    expect(doc.stdout).toMatch(/✓ socket/);
  });

  it('agent stop stops it; status then says not running (exit 3); --all reports this node', () => {
    const stop = cli('agent', 'stop', host);
    expect(stop.stdout).toMatch(/stopped agent pid \d+/);
    const st = cli('status', host);
    expect(st.code).toBe(3);
    expect(st.stdout).toMatch(/no agent running/);
    const all = cli('--json', 'agent', 'stop', host, '--all');
    expect(all.code).toBe(0);
    expect(JSON.parse(all.stdout.trim().split('\n')[0]!)).toMatchObject({ stopped: false });
  });

  it('doctor says how to fix an unknown host key', () => {
    const r = spawnSync(process.execPath, [CLI, 'doctor', `${bed.users.main}@127.0.0.1:${bed.instances.main.port}`], {
      encoding: 'utf8',
      env: { ...process.env, CLUSTRIX_SSH_CONFIG: '/dev/null', HOME: '/nonexistent' },
    });
    expect(r.status).toBe(5);
    expect(r.stdout).toMatch(/✗ host key: host key for \[127\.0\.0\.1\]:\d+ is not known \(ssh-ed25519 SHA256:/);
  });

  it.skipIf(!existsSync('/usr/bin/script'))('asks for a key passphrase on a terminal, without echoing it', () => {
    const cfg = join(mkdtempSync(join(tmpdir(), 'clx-tty-')), 'ssh_config');
    writeFileSync(cfg, `Host *\n  IdentityFile ${bed.clientKeyEncrypted}\n  IdentitiesOnly yes\n  UserKnownHostsFile ${bed.knownHosts}\n`);
    const target = `${bed.users.main}@127.0.0.1:${bed.instances.main.port}`;
    // script(1) gives the CLI a pseudo-terminal; the passphrase is typed after the prompt appears.
    const cmd = `(sleep 2; printf '%s\\r' "$PASS") | script -qfc "$CLI status $TARGET" /dev/null`;
    const r = spawnSync('/bin/sh', ['-c', cmd], {
      encoding: 'utf8',
      env: {
        ...process.env,
        CLUSTRIX_SSH_CONFIG: cfg,
        SSH_AUTH_SOCK: '',
        PASS: bed.clientKeyPassphrase,
        CLI: `${process.execPath} ${CLI} --root ${box.root} --run-dir ${box.runDir}`,
        TARGET: target,
      },
      timeout: 30_000,
    });
    expect(r.stdout).toContain(`Enter passphrase for key '${bed.clientKeyEncrypted}':`);
    expect(r.stdout).not.toContain(bed.clientKeyPassphrase);
    expect(r.stdout).toMatch(/no agent running|agent running|not installed/);
  });
});
