/**
 * Login shells and tunnels against the real sshd testbed: a noisy bash
 * account, a tcsh account, a server refusing stream-local forwarding (exec
 * bridge), and ProxyJump through a second sshd.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { connect } from '../../../client/index.js';
import { openRemote } from '../../../client/ssh/remote.js';
import { agentInfo, agentPing } from '../../../protocol/index.js';
import { fsStat } from '../../../protocol/methods/fs.js';
import { bed, describeSsh, login, sandbox } from './bed.js';

describeSsh('ssh e2e: login shells and tunnels', () => {
  const bash = sandbox('bash');
  const tcsh = sandbox('tcsh', 'tcsh');
  afterAll(async () => {
    await bash.cleanup();
    await tcsh.cleanup();
  });

  it('the testbed shells really are noisy (otherwise these tests prove nothing)', async () => {
    const r = await bash.sh('echo done');
    if (bed.root) expect(r.stdout).toContain(bed.loginNoise);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('done');
  });

  it('connects through a noisy bash login and lists files', async () => {
    const c = await connect(login('main'), bash.opts());
    try {
      const home = bed.homes[bed.users.main]!;
      const entries = await c.fs.ls(home);
      expect(entries.map((e) => e.name)).toContain('.bashrc');
      expect((await c.info()).user).toBe(bed.users.main);
    } finally {
      await c.close();
    }
  });

  it('connects as a tcsh user (cshrc noise, csh quoting rules)', async () => {
    const h = await openRemote(login('main', 'tcsh'), tcsh.opts({ root: `${tcsh.root}/we ird!dir` }));
    try {
      const info = await h.conn.call(agentInfo, {});
      expect(info.user).toBe(bed.users.tcsh);
      expect(info.root).toMatch(/we ird!dir$/);
      expect(h.info.how).toBe('installed');
    } finally {
      await h.close();
    }
  });

  it('falls back to the exec bridge when the server refuses stream-local forwarding', async () => {
    const h = await openRemote(login('noforward'), bash.opts());
    try {
      expect(h.tunnel).toBe('exec-bridge');
      const st = await h.conn.call(fsStat, { path: bed.homes[bed.users.main]! });
      expect(st.type).toBe('dir');
      // Many requests through the bridge in one go: flow is intact.
      const all = await Promise.all(Array.from({ length: 500 }, () => h.conn.call(fsStat, { path: '/etc/passwd' })));
      expect(all.every((s) => s.type === 'file')).toBe(true);
    } finally {
      await h.close();
    }
  });

  it('uses the exec bridge for a tcsh user too (noise before the bridge marker)', async () => {
    const h = await openRemote(login('noforward', 'tcsh'), tcsh.opts());
    try {
      expect(h.tunnel).toBe('exec-bridge');
      expect((await h.conn.call(agentPing, {})).now).toBeGreaterThan(0);
    } finally {
      await h.close();
    }
  });

  it('goes through a ProxyJump bastion (ssh_config alias)', async () => {
    const h = await openRemote(bed.aliases.viaJump, bash.opts());
    try {
      expect(h.ssh.host.jumps.map((j) => j.port)).toEqual([bed.instances.jump.port]);
      expect(h.ssh.hostKeys.map((k) => k.verdict?.status)).toEqual(['known', 'known']);
      expect(h.tunnel).toBe('stream-local');
      expect((await h.conn.call(agentPing, {})).now).toBeGreaterThan(0);
    } finally {
      await h.close();
    }
  });

  it('goes through a ProxyCommand (OpenSSH ssh -W via the bastion)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'clx-pc-'));
    const cfg = join(dir, 'config');
    writeFileSync(
      cfg,
      `Host via-cmd\n  HostName ${bed.host}\n  Port ${bed.instances.main.port}\n  ProxyCommand ssh -F ${bed.sshConfig} -W %h:%p ${bed.aliases.jump}\n\nInclude ${bed.sshConfig}\n`,
    );
    const h = await openRemote('via-cmd', bash.opts({ configFiles: [cfg] }));
    try {
      expect(h.ssh.host.proxyCommand).toContain(`-W ${bed.host}:${bed.instances.main.port}`);
      expect((await h.conn.call(agentPing, {})).now).toBeGreaterThan(0);
    } finally {
      await h.close();
    }
  });
});
