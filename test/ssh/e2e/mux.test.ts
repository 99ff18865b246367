/**
 * Persistent connections (the mux) with the real CLI and sshd: the first
 * command leaves one behind, the next ones go through it (they work even
 * with SSH auth broken), it survives the agent being stopped, it stops on
 * `clustrix mux stop` and by itself when idle, and nothing is left running.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { bed, describeSsh, sandbox } from './bed.js';

const CLI = join(import.meta.dirname, '..', '..', '..', 'dist', 'cli.mjs');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describeSsh('ssh e2e: persistent connections (mux)', () => {
  const box = sandbox('mux');
  const local = mkdtempSync(join(tmpdir(), 'clx-mux-e2e-'));
  const host = bed.aliases.main;
  const file = `${bed.homes[bed.users.main]}/.bashrc`;
  // The same alias, user, host and port (so the same mux), but no usable key: a direct connect fails auth.
  const noAuth = join(local, 'ssh_config-noauth');
  writeFileSync(noAuth, readFileSync(bed.sshConfig, 'utf8').replace(/IdentityFile .*/, `IdentityFile ${join(local, 'no-such-key')}`));
  const started: number[] = [];

  function cli(args: string[], env: Record<string, string> = {}) {
    const r = spawnSync(process.execPath, [CLI, '--root', box.root, '--run-dir', box.runDir, ...args], {
      encoding: 'utf8',
      env: {
        ...process.env,
        CLUSTRIX_SSH_CONFIG: bed.sshConfig,
        CLUSTRIX_RUN_DIR: join(local, 'run'),
        CLUSTRIX_PERSIST_MS: '60000',
        SSH_AUTH_SOCK: '',
        ...env,
      },
      timeout: 60_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }
  const muxes = () => JSON.parse(cli(['--json', 'mux', 'list']).stdout) as { target: string; pid: number }[];
  const waitForMux = async () => {
    await expect.poll(() => muxes().length, { timeout: 30_000, interval: 100 }).toBe(1);
    const m = muxes()[0]!;
    started.push(m.pid);
    return m;
  };

  afterAll(async () => {
    cli(['mux', 'stop']);
    for (const pid of started) if (alive(pid)) process.kill(pid, 'SIGTERM');
    await box.cleanup();
    rmSync(local, { recursive: true, force: true });
  });

  it('leaves a mux after a command; later commands go through it, and survive the agent being stopped', async () => {
    expect(cli(['stat', `${host}:${file}`])).toMatchObject({ code: 0 });
    const m = await waitForMux();
    expect(m.target).toBe(host);
    const doctor = JSON.parse(cli(['--json', 'doctor', host]).stdout) as { steps: { step: string; detail: string }[] };
    expect(doctor.steps.find((s) => s.step === 'persistent connection')?.detail).toMatch(new RegExp(`^running: pid ${m.pid},`));
    // Direct SSH cannot authenticate now: these work only through the mux.
    const viaMux = cli(['stat', `${host}:${file}`], { CLUSTRIX_SSH_CONFIG: noAuth });
    expect(viaMux.stderr).toBe('');
    expect(viaMux.stdout).toMatch(/regular file/);
    // The channel for a command is opened ahead of it (the mux keeps a spare), so it waits no round trip for it.
    expect(cli(['stat', `${host}:${file}`], { CLUSTRIX_SSH_CONFIG: noAuth })).toMatchObject({ code: 0 });
    const muxLog = readdirSync(join(local, 'run', 'mux')).find((f) => f.endsWith('.log'))!;
    expect(readFileSync(join(local, 'run', 'mux', muxLog), 'utf8')).toMatch(/channel: spare/);
    expect(cli(['agent', 'stop', host])).toMatchObject({ code: 0 });
    expect(cli(['ls', '-a', `${host}:${bed.homes[bed.users.main]}`], { CLUSTRIX_SSH_CONFIG: noAuth })).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('.bashrc'),
    });
    expect(muxes().map((x) => x.pid)).toEqual([m.pid]);

    // Stopped on request: the process exits, and a command without auth now fails.
    expect(cli(['mux', 'stop', host])).toMatchObject({ code: 0, stdout: expect.stringMatching(/stopped 1/) });
    await expect.poll(() => alive(m.pid), { timeout: 10_000, interval: 50 }).toBe(false);
    expect(muxes()).toEqual([]);
    const failed = cli(['stat', `${host}:${file}`], { CLUSTRIX_SSH_CONFIG: noAuth, CLUSTRIX_PERSIST_MS: '0' });
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toMatch(/auth/i);
  });

  it('keeps a fresh spare channel (upgraded ahead during a burst): a command long after the last one does not wait for its channel either', async () => {
    // Spares live 1 s here (30 s by default): an unused one is replaced before it is too old to use.
    const env = { CLUSTRIX_MUX_SPARE_MS: '1000' };
    expect(cli(['stat', `${host}:${file}`], env)).toMatchObject({ code: 0 });
    const m = await waitForMux();
    const muxLog = () => {
      const name = readdirSync(join(local, 'run', 'mux')).find((f) => f.endsWith('.log'))!;
      return readFileSync(join(local, 'run', 'mux', name), 'utf8');
    };
    // Three spare lifetimes with no command: each spare was replaced by a younger one.
    await new Promise((r) => setTimeout(r, 3000));
    const before = (muxLog().match(/channel: spare/g) ?? []).length;
    expect(cli(['stat', `${host}:${file}`], { ...env, CLUSTRIX_SSH_CONFIG: noAuth })).toMatchObject({ code: 0 });
    const lines = muxLog()
      .split('\n')
      .filter((l) => /channel: /.test(l));
    expect(lines.at(-1)).toMatch(/channel: spare/);
    expect((muxLog().match(/channel: spare/g) ?? []).length).toBe(before + 1);
    expect(cli(['mux', 'stop', host])).toMatchObject({ code: 0 });
    await expect.poll(() => alive(m.pid), { timeout: 10_000, interval: 50 }).toBe(false);
  });

  it('exits by itself when idle, and is not started when persistence is off', async () => {
    expect(cli(['stat', `${host}:${file}`], { CLUSTRIX_PERSIST_MS: '0' })).toMatchObject({ code: 0 });
    expect(cli(['stat', `${host}:${file}`], { CLUSTRIX_PERSIST_MS: '0' })).toMatchObject({ code: 0 });
    expect(muxes()).toEqual([]);
    expect(cli(['stat', `${host}:${file}`], { CLUSTRIX_PERSIST_MS: '1500' })).toMatchObject({ code: 0 });
    const m = await waitForMux();
    await expect.poll(() => alive(m.pid), { timeout: 20_000, interval: 100 }).toBe(false);
    expect(muxes()).toEqual([]);
  });
});
